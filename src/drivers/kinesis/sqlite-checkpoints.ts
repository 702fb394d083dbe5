// Checkpoints and leases in a SQLite file (better-sqlite3): for one machine, or several
// processes sharing the file on it. Statements run synchronously, so each is atomic.

import type { Database } from 'better-sqlite3';
import { loadPeer } from '../../driver-kit/peer.js';
import { CHECKPOINT_SQL, CHECKPOINT_TABLES, checkpointOf, type Checkpoint, type CheckpointStore } from './checkpoints.js';

type Statements = { [K in keyof typeof CHECKPOINT_SQL]: ReturnType<Database['prepare']> };

/** better-sqlite3 reads `$1` as the parameter named "1": the arguments, by their numbers. */
const numbered = (...values: unknown[]) => Object.fromEntries(values.map((value, index) => [index + 1, value]));

export class SqliteCheckpoints implements CheckpointStore {
  private constructor(
    private readonly db: Database,
    private readonly sql: Statements,
  ) {}

  /** Opens (creating) the file at `path`. */
  static async open(path: string): Promise<SqliteCheckpoints> {
    const { default: Sqlite } = await loadPeer('kinesis', 'better-sqlite3', () => import('better-sqlite3'), ' (>=12.0.0) for its SQLite checkpoint store');
    const db = new Sqlite(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    for (const table of CHECKPOINT_TABLES) db.exec(table);
    const sql = Object.fromEntries(Object.entries(CHECKPOINT_SQL).map(([name, text]) => [name, db.prepare(text)])) as Statements;
    return new SqliteCheckpoints(db, sql);
  }

  async begin(group: string, stream: string, start: string): Promise<string> {
    return (this.sql.begin.get(numbered(group, stream, start)) as { start: string }).start;
  }

  async heartbeat(group: string, stream: string, member: string, expires: number, now: number): Promise<string[]> {
    this.sql.heartbeat.run(numbered(group, stream, member, expires));
    return (this.sql.members.all(numbered(group, stream, now)) as Array<{ member: string }>).map((row) => row.member);
  }

  async take(group: string, stream: string, shard: string, member: string, expires: number, now: number): Promise<Checkpoint | undefined> {
    const row = this.sql.take.get(numbered(group, stream, shard, member, expires, now)) as { sequence: string | null; ahead: string } | undefined;
    return row === undefined ? undefined : checkpointOf(row);
  }

  async renew(group: string, stream: string, member: string, expires: number): Promise<string[]> {
    return (this.sql.renew.all(numbered(group, stream, member, expires)) as Array<{ shard: string }>).map((row) => row.shard);
  }

  async save(group: string, stream: string, shard: string, member: string, checkpoint: Checkpoint): Promise<boolean> {
    return this.sql.save.get(numbered(group, stream, shard, member, checkpoint.sequence ?? null, JSON.stringify(checkpoint.ahead))) !== undefined;
  }

  async release(group: string, stream: string, shard: string, member: string): Promise<void> {
    this.sql.release.run(numbered(group, stream, shard, member));
  }

  async leave(group: string, stream: string, member: string): Promise<void> {
    this.sql.leave.run(numbered(group, stream, member));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
