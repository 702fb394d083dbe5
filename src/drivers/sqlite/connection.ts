// Opens the database file: loads better-sqlite3 only when used, sets WAL and the chosen
// durability, and makes sure the file is an Omnibus database before anything is written.

import type { Database } from 'better-sqlite3';
import { resolve } from 'node:path';
import { ConfigurationError } from '../../core/errors.js';
import { loadPeer } from '../../driver-kit/peer.js';
import { sqliteError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { ensureSchema } from './schema.js';

export interface Connection {
  db: Database;
  /** The absolute file path, the key other drivers in this process share. */
  file: string;
  /** Whether the driver opened the file and so closes it. */
  owned: boolean;
}

async function loadLibrary(): Promise<new (file: string, options?: object) => Database> {
  const module = await loadPeer('sqlite', 'better-sqlite3', () => import('better-sqlite3'), ' (>= 12)');
  return (module as unknown as { default: new (file: string, options?: object) => Database }).default;
}

export async function openConnection(options: ResolvedOptions): Promise<Connection> {
  // A better-sqlite3 Database: the public type names only what the options need.
  const given = options.database as Database | undefined;
  const file = given === undefined ? resolve(options.path) : given.name;
  let db: Database | undefined = given;
  try {
    if (db === undefined) {
      const Library = await loadLibrary();
      db = new Library(file, { timeout: options.busyTimeoutMs });
    }
    if (db.memory) throw new ConfigurationError('the sqlite driver needs a database file, not :memory:, so other processes can share it');
    if (db.readonly) throw new ConfigurationError(`${file} was opened read-only; the sqlite driver needs to write to it`);
    db.pragma(`busy_timeout = ${Math.round(options.busyTimeoutMs)}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new ConfigurationError(`${file} could not be switched to WAL mode (it reports '${mode}'); use a file on a local disk`);
    }
    db.pragma(`synchronous = ${options.synchronous.toUpperCase()}`);
    // After a burst, shrink the write-ahead log back instead of keeping its peak size on disk.
    db.pragma('journal_size_limit = 67108864');
    ensureSchema(db, file, options.dedupeWindowMs);
    return { db, file, owned: given === undefined };
  } catch (error) {
    if (given === undefined && db?.open) db.close();
    throw sqliteError(error, 'open', file);
  }
}
