// Where a group keeps its place: Kinesis stores no consumer position, so each group's
// checkpoint per shard, the leases that share shards among its members, and the members
// themselves live in a store the user chooses (SQLite or Postgres, or one of their own).

import { ConfigurationError } from '../../core/errors.js';

/** A group's progress in one shard. */
export interface Checkpoint {
  /** Everything at or below this sequence number is settled; undefined: nothing yet, start at the group's start. */
  sequence?: string;
  /** Sequence numbers above `sequence` settled already (acked out of order), skipped by whoever reads the shard next. */
  ahead: string[];
}

/**
 * What a group needs stored. `group` names a group on one pattern; `stream` one stream; times
 * are milliseconds since the epoch, and a lease or member whose `expires` passed is gone.
 */
export interface CheckpointStore {
  /** Records where a new group starts; returns what the first member recorded (this `start` if it was the first). */
  begin(group: string, stream: string, start: string): Promise<string>;
  /** Marks `member` live until `expires`; returns the ids of the members live at `now`, sorted. */
  heartbeat(group: string, stream: string, member: string, expires: number, now: number): Promise<string[]>;
  /** Leases `shard` to `member` until `expires` if nobody holds it, its lease expired or it is the member's; returns its checkpoint, or undefined when another member holds it. */
  take(group: string, stream: string, shard: string, member: string, expires: number, now: number): Promise<Checkpoint | undefined>;
  /** Extends the member's leases to `expires`; returns the shards it still holds. */
  renew(group: string, stream: string, member: string, expires: number): Promise<string[]>;
  /** Writes the checkpoint if `member` still holds the lease; false when it lost it. */
  save(group: string, stream: string, shard: string, member: string, checkpoint: Checkpoint): Promise<boolean>;
  /** Gives up the lease, keeping the checkpoint. */
  release(group: string, stream: string, shard: string, member: string): Promise<void>;
  /** Removes the member from the group's live members. */
  leave(group: string, stream: string, member: string): Promise<void>;
  close(): Promise<void>;
}

/** The tables both stores keep, in SQL both SQLite and Postgres read. */
export const CHECKPOINT_TABLES = [
  `CREATE TABLE IF NOT EXISTS omnibus_kinesis_groups (grp TEXT NOT NULL, stream TEXT NOT NULL, start TEXT NOT NULL, PRIMARY KEY (grp, stream))`,
  `CREATE TABLE IF NOT EXISTS omnibus_kinesis_members (grp TEXT NOT NULL, stream TEXT NOT NULL, member TEXT NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (grp, stream, member))`,
  `CREATE TABLE IF NOT EXISTS omnibus_kinesis_leases (grp TEXT NOT NULL, stream TEXT NOT NULL, shard TEXT NOT NULL, owner TEXT, expires BIGINT NOT NULL, sequence TEXT, ahead TEXT NOT NULL, PRIMARY KEY (grp, stream, shard))`,
];

/** The statements, with `$n` placeholders; the SQLite store binds them by position. */
export const CHECKPOINT_SQL = {
  begin: `INSERT INTO omnibus_kinesis_groups (grp, stream, start) VALUES ($1, $2, $3) ON CONFLICT (grp, stream) DO UPDATE SET start = omnibus_kinesis_groups.start RETURNING start`,
  heartbeat: `INSERT INTO omnibus_kinesis_members (grp, stream, member, expires) VALUES ($1, $2, $3, $4) ON CONFLICT (grp, stream, member) DO UPDATE SET expires = excluded.expires`,
  members: `SELECT member FROM omnibus_kinesis_members WHERE grp = $1 AND stream = $2 AND expires > $3 ORDER BY member`,
  take: `INSERT INTO omnibus_kinesis_leases (grp, stream, shard, owner, expires, sequence, ahead) VALUES ($1, $2, $3, $4, $5, NULL, '[]')
    ON CONFLICT (grp, stream, shard) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
    WHERE omnibus_kinesis_leases.owner IS NULL OR omnibus_kinesis_leases.owner = excluded.owner OR omnibus_kinesis_leases.expires <= $6
    RETURNING sequence, ahead`,
  renew: `UPDATE omnibus_kinesis_leases SET expires = $4 WHERE grp = $1 AND stream = $2 AND owner = $3 RETURNING shard`,
  save: `UPDATE omnibus_kinesis_leases SET sequence = $5, ahead = $6 WHERE grp = $1 AND stream = $2 AND shard = $3 AND owner = $4 RETURNING shard`,
  release: `UPDATE omnibus_kinesis_leases SET owner = NULL WHERE grp = $1 AND stream = $2 AND shard = $3 AND owner = $4`,
  leave: `DELETE FROM omnibus_kinesis_members WHERE grp = $1 AND stream = $2 AND member = $3`,
} as const;

/** A checkpoint row's columns as the store returned them. */
export function checkpointOf(row: { sequence: string | null; ahead: string }): Checkpoint {
  const checkpoint: Checkpoint = { ahead: JSON.parse(row.ahead) as string[] };
  if (row.sequence !== null) checkpoint.sequence = row.sequence;
  return checkpoint;
}

/**
 * The store a `checkpoints` option names: `sqlite:<path>` (a file), `postgres://…` /
 * `postgresql://…` (a database), or a store of the user's own.
 */
export async function openCheckpoints(spec: string | CheckpointStore): Promise<CheckpointStore> {
  if (typeof spec !== 'string') return spec;
  if (spec.startsWith('sqlite:')) return (await import('./sqlite-checkpoints.js')).SqliteCheckpoints.open(spec.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(spec)) return (await import('./postgres-checkpoints.js')).PostgresCheckpoints.open({ connectionString: spec });
  throw new ConfigurationError(`kinesis: checkpoints '${spec}' names no store; give 'sqlite:<path>', 'postgres://…' or a CheckpointStore`);
}
