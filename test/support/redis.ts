// Shared by the Redis tests: the server address, the skip check, restarting the server, and
// removal of the keys a test run created.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { brokerSkip } from './broker.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const REDIS_START =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

export const redisSkip = () => brokerSkip({ name: 'Redis', url: REDIS_URL, start: REDIS_START });

const run = promisify(execFile);

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

/** Whether the server answers PING. */
export async function redisUp(): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-u', REDIS_URL, 'ping']);
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

/** Stops the server without saving (this server keeps nothing on disk, so its data is lost). */
export async function stopRedis(): Promise<void> {
  await run('redis-cli', ['-u', REDIS_URL, 'shutdown', 'nosave']).catch(() => undefined);
  for (let i = 0; i < 100 && (await redisUp()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Starts the server with this machine's command and waits until it answers. */
export async function startRedis(): Promise<void> {
  if (!(await redisUp())) await run('sh', ['-c', REDIS_START]);
  for (let i = 0; i < 250 && !(await redisUp()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  if (!(await redisUp())) throw new Error(`redis-server did not come back; start it with: ${REDIS_START}`);
}
