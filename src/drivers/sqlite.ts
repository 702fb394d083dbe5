// `omnibus/drivers/sqlite`: the embedded durable driver on one SQLite file (better-sqlite3,
// an optional peer dependency loaded on first use). The schema is in docs/sqlite.md.

import { SqliteDriver } from './sqlite/driver.js';
import type { SqliteOptions } from './sqlite/options.js';

export type { RetentionRule, SqliteDatabase, SqliteOptions } from './sqlite/options.js';
export type { SqliteDriver } from './sqlite/driver.js';

/**
 * The embedded durable driver: `sqlite({ path: 'omnibus.db' })`, or `sqlite({ database })`
 * with a better-sqlite3 connection of your own. Options and their defaults: `SqliteOptions`.
 * (A plain factory rather than `defineDriver`, so the result keeps its `ready()` method.)
 */
export function sqlite(options: SqliteOptions = {}): SqliteDriver {
  return new SqliteDriver(options);
}
export default sqlite;
