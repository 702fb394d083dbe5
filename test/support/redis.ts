// Shared by the Redis tests: the server address, the skip check, removal of the keys a test
// run created, a handler that collects messages, and a private server for tests that stop
// and restart one.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Message } from '../../src/core/message.js';
import { brokerSkip } from './broker.js';
import { startPrivateServer, type PrivateServer } from './private-server.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const REDIS_START =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

export const redisSkip = () => brokerSkip({ name: 'Redis', url: REDIS_URL, start: REDIS_START });

const run = promisify(execFile);

/** A handler that keeps every message it is given, in arrival order. */
export function collect() {
  const messages: Message[] = [];
  return { messages, handler: (message: Message) => void messages.push(message) };
}

/** Deletes every key that starts with `prefix`. */
export async function deleteKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** A redis-server only this test uses, on a free port, keeping nothing on disk (like the shared one). */
export interface PrivateRedisServer extends PrivateServer {
  readonly url: string;
}

async function answers(port: number): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

/**
 * `redis-server --port <free port> --save "" --appendonly no --dir <tmp dir>`: stopping it
 * loses its data. Call `dispose()` in a `finally`. The shared server on 6379 is never touched.
 */
export async function startPrivateRedis(): Promise<PrivateRedisServer> {
  const server = await startPrivateServer({
    name: 'redis-server',
    command: 'redis-server',
    args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    ready: answers,
  });
  return Object.assign(server, { url: `redis://127.0.0.1:${server.port}` });
}
