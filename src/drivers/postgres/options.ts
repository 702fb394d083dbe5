// The PostgreSQL driver's options, each with its default in one place.

import { userInfo } from 'node:os';
import type { Pool } from 'pg';
import { DEFAULT_DEDUPE_WINDOW_MS } from '../../core/driver.js';
import { ConfigurationError } from '../../core/errors.js';

export interface PostgresOptions {
  /**
   * Where the server is. Default: built from the `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`
   * and `PGDATABASE` variables when any is set, else `postgres://127.0.0.1:5432/test`.
   */
  connectionString?: string;
  /** A pool the application already built; the driver uses it and leaves it open on close. Default: none (the driver makes its own). */
  pool?: Pool;
  /** The schema holding the driver's tables, so several buses (or tests) can share one database. Default `'omnibus'`. */
  schema?: string;
  /** Create or upgrade the tables on start. With false, start fails unless they are current. Default true. */
  migrate?: boolean;
  /** Connections in the pool the driver makes (one listens for wake-ups). Default 10. */
  poolSize?: number;
  /** How long to wait for a connection before failing with ConnectionError. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long `publish` keeps retrying after losing the connection before it fails with
   * ConnectionError. Retrying is safe: ids de-duplicate. Default 5,000 ms; 0 fails at once.
   */
  publishRetryMs?: number;
  /** Messages a subscription (or a group, per process) holds unsettled at most; it claims more once half are settled. Default 200. */
  prefetch?: number;
  /** How often idle subscriptions look for work without a wake-up, as a safety net. Default 5,000 ms. */
  pollIntervalMs?: number;
  /**
   * How long messages are kept. `maxAgeMs` drops older ones, `maxMessages` all but the newest.
   * Default `{ maxAgeMs: 7 days }`, no count limit.
   */
  retention?: { maxAgeMs?: number; maxMessages?: number };
  /**
   * How long a stored id is remembered: publishing it again within this time stores nothing and
   * resolves with `duplicate: true` and the stored seq; after it, the id is stored again as a
   * new message. Default `DEFAULT_DEDUPE_WINDOW_MS` (2 minutes).
   */
  dedupeWindowMs?: number;
  /** How often retention, TTL expiry and clean-up (ids past their dedupe window among it) run. Default 60,000 ms. */
  retentionIntervalMs?: number;
  /** Largest encoded body accepted, in bytes. Default 16 MiB (PostgreSQL itself allows 1 GiB per value). */
  maxPayloadBytes?: number;
}

export interface ResolvedOptions {
  connectionString: string;
  pool: Pool | undefined;
  schema: string;
  migrate: boolean;
  poolSize: number;
  connectTimeoutMs: number;
  publishRetryMs: number;
  prefetch: number;
  pollIntervalMs: number;
  maxAgeMs: number | undefined;
  maxMessages: number | undefined;
  dedupeWindowMs: number;
  retentionIntervalMs: number;
  maxPayloadBytes: number;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,39}$/;
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** The address from `PG*` variables, as libpq would read them, or the local test database. */
export function defaultConnectionString(env: Record<string, string | undefined> = process.env): string {
  if (!['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE'].some((name) => env[name])) {
    return 'postgres://127.0.0.1:5432/test';
  }
  const url = new URL('postgres://localhost');
  url.hostname = env.PGHOST ?? '127.0.0.1';
  url.port = env.PGPORT ?? '5432';
  if (env.PGUSER) url.username = encodeURIComponent(env.PGUSER);
  if (env.PGPASSWORD) url.password = encodeURIComponent(env.PGPASSWORD);
  url.pathname = `/${encodeURIComponent(env.PGDATABASE ?? env.PGUSER ?? 'test')}`;
  return url.toString();
}

/**
 * The address with libpq's default user filled in: `pg` reads only `PGUSER`/`USER`, so
 * where neither is set (containers, CI) it would send no user at all.
 */
export function withDefaultUser(connectionString: string, env: Record<string, string | undefined> = process.env): string {
  if (env.PGUSER || env.USER) return connectionString;
  try {
    const url = new URL(connectionString);
    if (url.username || url.searchParams.has('user') || !/^postgres(ql)?:$/.test(url.protocol)) return connectionString;
    url.username = encodeURIComponent(userInfo().username);
    return url.toString();
  } catch {
    return connectionString;
  }
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigurationError(`postgres option '${name}' must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: PostgresOptions): ResolvedOptions {
  const schema = options.schema ?? 'omnibus';
  if (!SCHEMA.test(schema)) {
    throw new ConfigurationError(
      `postgres schema '${schema}' is not a plain lower-case identifier of at most 40 characters (letters, digits, '_')`,
    );
  }
  const retention = options.retention ?? { maxAgeMs: WEEK_MS };
  return {
    connectionString: withDefaultUser(options.connectionString ?? defaultConnectionString()),
    pool: options.pool,
    schema,
    migrate: options.migrate ?? true,
    poolSize: Math.floor(positive('poolSize', options.poolSize, 10)),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 5_000),
    publishRetryMs: positive('publishRetryMs', options.publishRetryMs, 5_000, true),
    prefetch: Math.floor(positive('prefetch', options.prefetch, 200)),
    pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs, 5_000),
    maxAgeMs: retention.maxAgeMs === undefined ? undefined : positive('retention.maxAgeMs', retention.maxAgeMs, 0),
    maxMessages: retention.maxMessages === undefined ? undefined : Math.floor(positive('retention.maxMessages', retention.maxMessages, 0)),
    dedupeWindowMs: positive('dedupeWindowMs', options.dedupeWindowMs, DEFAULT_DEDUPE_WINDOW_MS),
    retentionIntervalMs: positive('retentionIntervalMs', options.retentionIntervalMs, 60_000),
    maxPayloadBytes: positive('maxPayloadBytes', options.maxPayloadBytes, 16 * 1024 * 1024),
  };
}
