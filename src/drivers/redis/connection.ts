// The driver's connections: its own client (ioredis loaded on first use) or the
// application's, ready before the first command, failing fast when nothing answers.

import type { Redis, RedisOptions as IORedisOptions } from 'ioredis';
import { OmnibusError, PublishError } from '../../core/index.js';
import { failure, type FailureKind } from '../../driver-kit/failure.js';
import { loadPeer } from '../../driver-kit/peer.js';

export const DEFAULT_URL = 'redis://127.0.0.1:6379';

export interface RedisConnectionOptions {
  url?: string;
  client?: Redis;
  connection?: IORedisOptions;
}

/**
 * A ready command connection, and whether the driver owns it (and so closes it). A client
 * with autopipelining on is used only as a template: with it, ioredis 6.0 sends
 * `callBuffer(command, ...args)` without the command name, and the driver reads with it.
 */
export async function openConnection(options: RedisConnectionOptions): Promise<{ client: Redis; owned: boolean }> {
  let client = options.client;
  if (client?.options.enableAutoPipelining) client = client.duplicate({ enableAutoPipelining: false });
  if (client === undefined) {
    const { Redis } = await loadPeer('redis', 'ioredis', () => import('ioredis'));
    client = new Redis(options.url ?? DEFAULT_URL, {
      lazyConnect: true,
      connectTimeout: 5_000,
      maxRetriesPerRequest: 10,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
      ...options.connection,
      enableAutoPipelining: false,
    });
  }
  const owned = client !== options.client;
  // ioredis reports every failed reconnect as an 'error' event; the driver reports connection state itself.
  if (owned) client.on('error', () => {});
  if (client.status !== 'ready') {
    const pending = client;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        pending.off('ready', succeed);
        reject(error);
      };
      const succeed = () => {
        pending.off('error', fail);
        resolve();
      };
      pending.once('error', fail);
      pending.once('ready', succeed);
      // The 'error' event names the cause (ECONNREFUSED ...); connect() only says the connection closed.
      if (pending.status === 'wait') pending.connect().catch((error) => setTimeout(() => fail(error), 10));
    }).catch((error) => {
      if (owned) pending.disconnect();
      throw error;
    });
  }
  return { client, owned };
}

/** `openConnection`, its failures as typed errors that say what to check. */
export async function connectTyped(options: RedisConnectionOptions, topic: string | undefined): Promise<{ client: Redis; owned: boolean }> {
  try {
    return await openConnection(options);
  } catch (error) {
    if (error instanceof OmnibusError) throw error;
    const address = redact(options.url ?? DEFAULT_URL);
    if (classify(error) === 'refused') {
      throw failure('refused', `redis at ${address} refused us: ${(error as Error).message}; check the user and password in the url`, { topic, cause: error });
    }
    throw failure('connection', `redis: cannot connect to ${address}: ${(error as Error).message}; check the url and that redis-server is running`, {
      topic,
      cause: error,
    });
  }
}

/** The typed error for a failed publish to `topic`. */
export function publishFailed(cause: unknown, topic: string): OmnibusError {
  const reason = (cause as Error)?.message ?? String(cause);
  const kind = classify(cause);
  if (kind === 'connection') return failure(kind, `redis: publish to '${topic}' failed, the server is unreachable: ${reason}`, { topic, cause });
  if (kind === 'refused') return failure(kind, `redis: the server refused the publish to '${topic}': ${reason}`, { topic, cause });
  return new PublishError(`redis: publish to '${topic}' failed: ${reason}`, { topic, cause });
}

/**
 * A connection of its own for blocking reads (`waitOut`: commands wait through outages
 * instead of failing) or for pub/sub.
 */
export function duplicateConnection(client: Redis, waitOut: boolean, connectionName?: string): Redis {
  const connection = client.duplicate({
    ...(connectionName === undefined ? {} : { connectionName }),
    lazyConnect: false,
    enableAutoPipelining: false,
    ...(waitOut ? { maxRetriesPerRequest: null } : {}),
    // A command cut off by a dropped connection is sent again on reconnect; without this, ioredis leaves it unsettled.
    autoResendUnfulfilledCommands: true,
  });
  connection.on('error', () => {});
  return connection;
}

/** What a failed command means: the server unreachable for now, or a refusal it answered with (an error reply); undefined when neither. */
export function classify(error: unknown): FailureKind | undefined {
  if (isConnectionError(error)) return 'connection';
  return (error as Error)?.name === 'ReplyError' ? 'refused' : undefined;
}

/** Errors that mean "the server is unreachable right now", as opposed to a refused command. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|Command timed out/i.test(
      error.message,
    )
  );
}

/** An address fit for an error message: the password masked. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
