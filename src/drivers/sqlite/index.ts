// `omnibus/drivers/sqlite`: the embedded durable driver on one SQLite file (better-sqlite3,
// an optional peer dependency loaded on first use). The schema is in docs/sqlite.md.

export { sqlite, sqlite as default, type SqliteDriver } from './driver.js';
export type { RetentionRule, SqliteDatabase, SqliteOptions } from './options.js';
