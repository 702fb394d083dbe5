// The Lua the Redis driver runs where several commands must happen as one step: storing a
// message with its de-duplication mark and stream registration, claiming stuck entries with
// their delivery counts, and creating consumer groups.

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

type Arg = string | Buffer | number;

export class Script {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** EVALSHA, falling back to EVAL (which caches the script) when the server does not know it yet. */
  async run(client: Redis, keys: Arg[], args: Arg[], buffers = false): Promise<unknown> {
    const call = (buffers ? client.callBuffer : client.call).bind(client) as (...a: Arg[]) => Promise<unknown>;
    try {
      return await call('EVALSHA', this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return call('EVAL', this.lua, keys.length, ...keys, ...args);
    }
  }
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * KEYS: stream, de-duplication key, stream registry.
 * ARGV: de-duplication window ms (0: off), stream name to register ('' if known), events
 * channel, then XADD's arguments after the key (trimming, '*', fields).
 * Returns [entry id, 1 if stored or 0 if a duplicate of the returned entry].
 */
export const publishScript = new Script(
  `local window = tonumber(ARGV[1])
if window > 0 then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {seen, 0} end
end
local id = redis.call('XADD', KEYS[1], unpack(ARGV, 4))
if window > 0 then redis.call('SET', KEYS[2], id, 'PX', window) end
if ARGV[2] ~= '' and redis.call('SADD', KEYS[3], ARGV[2]) == 1 then
  redis.call('PUBLISH', ARGV[3], 'stream ' .. ARGV[2])
end
return {id, 1}`,
);

/**
 * KEYS: stream. ARGV: group, consumer, min idle ms, count.
 * XAUTOCLAIM, then each claimed entry's delivery count from XPENDING (XAUTOCLAIM has just
 * raised it), so attempt numbers come from Redis rather than from any one process.
 * Returns [[id, fields, deliveries], ...].
 */
export const claimScript = new Script(
  `local out = {}
local cursor = '0-0'
for _ = 1, 10 do
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', tonumber(ARGV[4]) - #out)
  cursor = claimed[1]
  for _, entry in ipairs(claimed[2]) do
    if entry[2] then
      local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
      local deliveries = 1
      if pending[1] then deliveries = pending[1][4] end
      out[#out + 1] = {entry[1], entry[2], deliveries}
    else
      redis.call('XACK', KEYS[1], ARGV[1], entry[1])
    end
  end
  if cursor == '0-0' or #out >= tonumber(ARGV[4]) then break end
end
return out`,
);

/**
 * KEYS: stream, stream registry. ARGV: group, start id, stream name, events channel.
 * Creates the consumer group (and the stream) unless it exists: an existing group keeps its
 * position, which is what makes a group's place survive restarts.
 */
export const ensureGroupScript = new Script(
  `local created = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
if type(created) == 'table' and created.err and not string.find(created.err, 'BUSYGROUP') then
  return redis.error_reply(created.err)
end
if redis.call('SADD', KEYS[2], ARGV[3]) == 1 then redis.call('PUBLISH', ARGV[4], 'stream ' .. ARGV[3]) end
return 1`,
);

/**
 * KEYS: group registry. ARGV: group name, start id or 'now'.
 * Records where a group starts the first time it subscribes ('now': just before the current
 * millisecond) and returns [start, 1 if this call recorded it].
 */
export const groupStartScript = new Script(
  `local start = redis.call('HGET', KEYS[1], ARGV[1])
if start then return {start, 0} end
start = ARGV[2]
if start == 'now' then
  local now = redis.call('TIME')
  start = string.format('%d-18446744073709551615', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - 1)
end
redis.call('HSET', KEYS[1], ARGV[1], start)
return {start, 1}`,
);

/** KEYS: streams. Returns each stream's last generated id ('0-0' if it does not exist yet). */
export const lastIdsScript = new Script(
  `local out = {}
for i, key in ipairs(KEYS) do
  out[i] = '0-0'
  if redis.call('EXISTS', key) == 1 then
    local info = redis.call('XINFO', 'STREAM', key)
    for j = 1, #info, 2 do
      if info[j] == 'last-generated-id' then out[i] = info[j + 1] end
    end
  end
end
return out`,
);

/** KEYS: stream. ARGV: group, consumer. Removes a consumer that holds no pending entries. */
export const dropConsumerScript = new Script(
  `local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if type(pending) == 'table' and not pending.err and #pending == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return 1`,
);
