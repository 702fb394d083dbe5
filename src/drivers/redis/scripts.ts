// The Lua the Redis driver runs where several commands must happen as one step: storing a
// message with its de-duplication mark and stream registration, claiming stuck entries with
// their delivery counts, handing back only what a member still holds, creating groups, and
// holding delayed messages until they move into their streams.

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

/** EVAL, always: one command, whatever the server's script cache holds (EVALSHA may take two). */
export function evalOnce(client: Redis, script: Script, keys: Arg[], args: Arg[]): Promise<unknown> {
  return client.call('EVAL', script.lua, keys.length, ...keys, ...args);
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

/**
 * KEYS: stream. ARGV: group, consumer, idle ms, then entry ids.
 * Sets the idle time of each entry this consumer still holds (XCLAIM … IDLE … JUSTID, which
 * counts no delivery). An entry another member claimed meanwhile is theirs and left alone:
 * a plain XCLAIM would take it back and have it delivered twice. Returns how many were set.
 */
export const ownIdleScript = new Script(
  `local set = 0
for i = 4, #ARGV do
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #held > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', tonumber(ARGV[3]), 'JUSTID')
    set = set + 1
  end
end
return set`,
);

/**
 * KEYS: stream registry. ARGV: key prefix, then 'names' and stream names, or 'prefix' and a
 * name prefix. The last entry id of each named stream, or of every registered stream whose
 * name starts with the prefix (the caller matches the pattern itself). One command, so that
 * nothing the same connection sends later can land inside a history read's snapshot.
 * Returns [name, last id, ...], leaving out streams without entries.
 */
export const snapshotScript = new Script(
  `local names = {}
if ARGV[2] == 'names' then
  for i = 3, #ARGV do names[#names + 1] = ARGV[i] end
else
  for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if string.sub(name, 1, #ARGV[3]) == ARGV[3] then names[#names + 1] = name end
  end
end
local out = {}
for _, name in ipairs(names) do
  local top = redis.call('XREVRANGE', ARGV[1] .. name, '+', '-', 'COUNT', 1)
  if top[1] then
    out[#out + 1] = name
    out[#out + 1] = top[1][1]
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

/**
 * KEYS: delayed set, delayed entries, delayed counter. ARGV: due ms, events channel, stream
 * name, message id, then the entry's fields. Holds one delayed message: a counter numbers it,
 * so equal due times sort in publish order, and subscribers everywhere hear its due time.
 */
export const holdScript = new Script(
  `local member = string.format('%016d', redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[2], member, cmsgpack.pack({unpack(ARGV, 3)}))
redis.call('ZADD', KEYS[1], ARGV[1], member)
redis.call('PUBLISH', ARGV[2], 'due ' .. ARGV[1])
return member`,
);

/**
 * KEYS: delayed set, delayed entries, stream registry. ARGV: now ms, most to move, key prefix,
 * events channel, de-duplication window ms (0: off), then XADD's trimming arguments.
 * Moves what is due into its streams, earliest first (equal due times in publish order); an
 * id stored within the window is dropped, as a publish would be. Returns [moved, next due ms or -1].
 */
export const moveDueScript = new Script(
  `local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local window = tonumber(ARGV[5])
for _, member in ipairs(due) do
  local packed = redis.call('HGET', KEYS[2], member)
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
  if packed then
    local entry = cmsgpack.unpack(packed)
    local seen = ARGV[3] .. '@id:' .. entry[2]
    if window == 0 or not redis.call('GET', seen) then
      local args = {}
      for i = 6, #ARGV do args[#args + 1] = ARGV[i] end
      args[#args + 1] = '*'
      for i = 3, #entry do args[#args + 1] = entry[i] end
      local id = redis.call('XADD', ARGV[3] .. entry[1], unpack(args))
      if window > 0 then redis.call('SET', seen, id, 'PX', window) end
      if redis.call('SADD', KEYS[3], entry[1]) == 1 then redis.call('PUBLISH', ARGV[4], 'stream ' .. entry[1]) end
    end
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, first[2] or '-1'}`,
);
