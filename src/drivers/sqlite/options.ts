// The options of the embedded SQLite driver, each with its default, and their checking.

import { DEFAULT_DEDUPE_WINDOW_MS } from '../../core/driver.js';
import { ConfigurationError } from '../../core/errors.js';
import { assertPattern } from '../../core/topic.js';

/** How long messages are kept, for the topics matching `topics`. */
export interface RetentionRule {
  /** A topic pattern (`orders.>`); the first rule matching a topic governs it. */
  topics: string;
  /** Delete messages older than this. Default: no age limit. */
  maxAgeMs?: number;
  /** Keep at most this many messages across the rule's topics, deleting the oldest. Default: no limit. */
  maxMessages?: number;
  /** Keep at most this many bytes (body plus headers) across the rule's topics. Default: no limit. */
  maxBytes?: number;
}

/**
 * Options of `sqlite()`.
 *
 * - `path`: the database file. Default `'omnibus.db'` (in the working directory). Ignored
 *   when `database` is given.
 * - `database`: a better-sqlite3 `Database` you opened yourself; the driver sets its pragmas
 *   (WAL, `synchronous`, `busy_timeout`) and never closes it. Default: the driver opens `path`.
 * - `synchronous`: `'full'` (default) fsyncs the write-ahead log at each commit, so a resolved
 *   publish or ack survives a power loss; `'normal'` skips that fsync: it survives a crash of
 *   the process but a power loss can lose the last commits; `'off'` leaves flushing to the OS.
 * - `retention`: rules by topic pattern; topics no rule matches are kept until a message's
 *   own `ttlMs` expires. Default `[]` (keep everything).
 * - `retentionIntervalMs`: how often TTL and retention are enforced, in small transactions
 *   that interleave with publishes. Default 1,000 ms.
 * - `maxPayloadBytes`: the largest body accepted. Default 8 MiB.
 * - `dedupeWindowMs`: how long a stored id is remembered: publishing it again within this
 *   time stores nothing and resolves with `duplicate: true` and the stored seq; after it, the
 *   id is stored again as a new message. Default `DEFAULT_DEDUPE_WINDOW_MS` (2 minutes).
 * - `busyTimeoutMs`: how long to wait for another process's write lock. Default 5,000 ms.
 * - `pollIntervalMs`: the fallback check for commits by other processes, behind the
 *   file-change notifications that normally wake subscribers within a millisecond or two.
 *   Default 50 ms.
 * - `claimBatch`: the most messages of one group this process holds unsettled (and claims in
 *   one transaction). The window starts at 32 and grows toward it as fast as the process
 *   settles, so a slow member leaves the backlog to the others. Ack deadlines start at the
 *   claim. Default 512.
 */
/**
 * A better-sqlite3 `Database`, described by the little the driver's options need, so a
 * project using the driver needs no @types/better-sqlite3.
 */
export interface SqliteDatabase {
  readonly name: string;
  readonly memory: boolean;
  readonly readonly: boolean;
  pragma(source: string, options?: { simple?: boolean }): unknown;
}

export interface SqliteOptions {
  path?: string;
  database?: SqliteDatabase;
  synchronous?: 'full' | 'normal' | 'off';
  retention?: RetentionRule[];
  retentionIntervalMs?: number;
  maxPayloadBytes?: number;
  dedupeWindowMs?: number;
  busyTimeoutMs?: number;
  pollIntervalMs?: number;
  claimBatch?: number;
}

export type ResolvedOptions = Required<Omit<SqliteOptions, 'database'>> & { database: SqliteDatabase | undefined };

export function resolveOptions(options: SqliteOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('sqlite() takes an options object, such as { path: "omnibus.db" }');
  }
  const resolved: ResolvedOptions = {
    path: options.path ?? 'omnibus.db',
    database: options.database,
    synchronous: options.synchronous ?? 'full',
    retention: options.retention ?? [],
    retentionIntervalMs: options.retentionIntervalMs ?? 1_000,
    maxPayloadBytes: options.maxPayloadBytes ?? 8 * 1024 * 1024,
    dedupeWindowMs: options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
    busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
    pollIntervalMs: options.pollIntervalMs ?? 50,
    claimBatch: options.claimBatch ?? 512,
  };
  if (typeof resolved.path !== 'string' || resolved.path.length === 0) {
    throw new ConfigurationError('sqlite option "path" must be a non-empty file path');
  }
  if (!['full', 'normal', 'off'].includes(resolved.synchronous)) {
    throw new ConfigurationError(`sqlite option "synchronous" must be 'full', 'normal' or 'off', not '${resolved.synchronous}'`);
  }
  for (const name of ['retentionIntervalMs', 'maxPayloadBytes', 'dedupeWindowMs', 'busyTimeoutMs', 'pollIntervalMs', 'claimBatch'] as const) {
    const value = resolved[name];
    if (!(Number.isFinite(value) && value > 0)) {
      throw new ConfigurationError(`sqlite option "${name}" must be a positive number, not ${String(value)}`);
    }
  }
  if (!Array.isArray(resolved.retention)) {
    throw new ConfigurationError('sqlite option "retention" must be an array of { topics, maxAgeMs?, maxMessages?, maxBytes? }');
  }
  for (const rule of resolved.retention) {
    assertPattern(rule?.topics);
    for (const name of ['maxAgeMs', 'maxMessages', 'maxBytes'] as const) {
      const value = rule[name];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new ConfigurationError(`retention rule for '${rule.topics}': "${name}" must be a number >= 0, not ${String(value)}`);
      }
    }
  }
  return resolved;
}
