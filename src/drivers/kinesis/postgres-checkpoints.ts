// Checkpoints and leases in Postgres (pg): for group members on several machines. Each call
// is one statement, atomic on its own; the pool is the store's unless the user passed one.

import type { Pool } from 'pg';
import { loadPeer } from '../../driver-kit/peer.js';
import { CHECKPOINT_SQL, CHECKPOINT_TABLES, checkpointOf, type Checkpoint, type CheckpointStore } from './checkpoints.js';

export class PostgresCheckpoints implements CheckpointStore {
  private constructor(
    private readonly pool: Pool,
    private readonly owned: boolean,
  ) {}

  /** Connects to `connectionString` (or uses `pool`, which it never ends) and creates the tables. */
  static async open(target: { connectionString: string } | { pool: Pool }): Promise<PostgresCheckpoints> {
    let pool: Pool;
    if ('pool' in target) pool = target.pool;
    else {
      const { default: pg } = await loadPeer('kinesis', 'pg', () => import('pg'), ' (>=8.0.0) for its Postgres checkpoint store');
      pool = new pg.Pool({ connectionString: target.connectionString, max: 4 });
    }
    const store = new PostgresCheckpoints(pool, !('pool' in target));
    try {
      // Two members creating the tables at once can collide in the catalogue: one lock.
      await pool.query(`SELECT pg_advisory_lock(hashtext('omnibus_kinesis_tables'))`);
      try {
        for (const table of CHECKPOINT_TABLES) await pool.query(table);
      } finally {
        await pool.query(`SELECT pg_advisory_unlock(hashtext('omnibus_kinesis_tables'))`);
      }
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async begin(group: string, stream: string, start: string): Promise<string> {
    const { rows } = await this.pool.query(CHECKPOINT_SQL.begin, [group, stream, start]);
    return rows[0].start as string;
  }

  async heartbeat(group: string, stream: string, member: string, expires: number, now: number): Promise<string[]> {
    await this.pool.query(CHECKPOINT_SQL.heartbeat, [group, stream, member, expires]);
    const { rows } = await this.pool.query(CHECKPOINT_SQL.members, [group, stream, now]);
    return rows.map((row: { member: string }) => row.member);
  }

  async take(group: string, stream: string, shard: string, member: string, expires: number, now: number): Promise<Checkpoint | undefined> {
    const { rows } = await this.pool.query(CHECKPOINT_SQL.take, [group, stream, shard, member, expires, now]);
    return rows.length === 0 ? undefined : checkpointOf(rows[0]);
  }

  async renew(group: string, stream: string, member: string, expires: number): Promise<string[]> {
    const { rows } = await this.pool.query(CHECKPOINT_SQL.renew, [group, stream, member, expires]);
    return rows.map((row: { shard: string }) => row.shard);
  }

  async save(group: string, stream: string, shard: string, member: string, checkpoint: Checkpoint): Promise<boolean> {
    const { rows } = await this.pool.query(CHECKPOINT_SQL.save, [group, stream, shard, member, checkpoint.sequence ?? null, JSON.stringify(checkpoint.ahead)]);
    return rows.length > 0;
  }

  async release(group: string, stream: string, shard: string, member: string): Promise<void> {
    await this.pool.query(CHECKPOINT_SQL.release, [group, stream, shard, member]);
  }

  async leave(group: string, stream: string, member: string): Promise<void> {
    await this.pool.query(CHECKPOINT_SQL.leave, [group, stream, member]);
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end().catch(() => {});
  }
}
