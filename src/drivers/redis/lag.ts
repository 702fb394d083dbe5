// A group's lag on Redis Streams. "Not yet acknowledged" is both halves: the entries the
// consumer group has not read (XINFO GROUPS `lag`) and those read but not XACKed (its
// pending list, `pending`). Summed over every stream the pattern reads.

import type { Redis } from 'ioredis';
import { isWildcard } from '../../core/index.js';
import type { Keys } from './layout.js';
import { Script } from './scripts.js';

/**
 * Where Redis cannot say the lag itself (6.2 has no `lag` field), the unread entries are
 * counted on the server, which ships no payloads, up to this many: past it the figure is a
 * floor. Counting blocks Redis while it runs, so the cap bounds that too.
 */
export const COUNT_CAP = 10_000;

/** KEYS: the stream. ARGV: the last delivered id, the cap. Counts entries after the id. */
const countAfter = new Script(`
local start, cap, count = '(' .. ARGV[1], tonumber(ARGV[2]), 0
while count < cap do
  local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', math.min(1000, cap - count))
  count = count + #entries
  if #entries == 0 then return count end
  start = '(' .. entries[#entries][1]
end
return count`);

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
    // Redis 6.2 has no `lag`, and 7 leaves it nil where it cannot keep it exact (XDEL of unread entries).
    const unread = lag === null || lag === undefined ? Number(await countAfter.run(client, [key], [String(info.get('last-delivered-id')), COUNT_CAP])) : Number(lag);
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
