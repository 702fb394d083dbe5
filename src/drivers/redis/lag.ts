// A group's lag on Redis Streams. "Not yet acknowledged" is both halves: the entries the
// consumer group has not read (XINFO GROUPS `lag`) and those read but not XACKed (its
// pending list, `pending`). Summed over every stream the pattern reads.

import type { Redis } from 'ioredis';
import { isWildcard } from '../../core/index.js';
import type { Keys } from './layout.js';

/** Entries counted per XRANGE call when Redis cannot say the lag itself. */
const COUNT_CHUNK = 1_000;

export async function groupLag(client: Redis, keys: Keys, pattern: string, group: string, streamNames: () => Promise<string[]>): Promise<number> {
  const names = isWildcard(pattern) ? (await streamNames()).filter((name) => keys.streamMatches(pattern, name)) : [keys.streamName(pattern)];
  const counts = await Promise.all(names.map((name) => streamLag(client, keys.stream(name), group)));
  return counts.reduce((sum, count) => sum + count, 0);
}

async function streamLag(client: Redis, key: string, group: string): Promise<number> {
  let groups: unknown[][];
  try {
    groups = (await client.call('XINFO', 'GROUPS', key)) as unknown[][];
  } catch (error) {
    // A stream nobody published to yet holds nothing to lag behind.
    if (/no such key/i.test((error as Error).message)) return 0;
    throw error;
  }
  for (const flat of groups) {
    const info = fields(flat);
    if (info.get('name') !== group) continue;
    const pending = Number(info.get('pending'));
    const lag = info.get('lag');
    // Redis leaves `lag` nil when deletions or trimming make its counter unreliable: count the unread entries instead.
    const unread = lag === null || lag === undefined ? await countAfter(client, key, String(info.get('last-delivered-id'))) : Number(lag);
    return pending + unread;
  }
  // The group never read this stream (it appeared after the group's members last ran).
  return 0;
}

function fields(flat: unknown[]): Map<string, unknown> {
  const info = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
  return info;
}

async function countAfter(client: Redis, key: string, after: string): Promise<number> {
  let count = 0;
  for (let start = `(${after}`; ; ) {
    const entries = (await client.call('XRANGE', key, start, '+', 'COUNT', COUNT_CHUNK)) as Array<[string, unknown]>;
    count += entries.length;
    if (entries.length < COUNT_CHUNK) return count;
    start = `(${entries[entries.length - 1][0]}`;
  }
}
