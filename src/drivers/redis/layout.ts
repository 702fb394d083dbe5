// How the Redis driver lays its data out: key names, stream positions, and the fields of
// one stream entry. docs/redis.md documents the same layout for people using redis-cli.

import { isUtf8 } from 'node:buffer';
import { headersJson, isJsonTypeOnly, jsonTypeHeaders } from '../../driver-kit/json-headers.js';
import { InvalidPositionError, matchesPattern, patternsOverlap, type From, type WireMessage } from '../../core/index.js';

/** The largest sequence part of a stream id, so `${ms - 1}-${MAX_SEQUENCE}` sits just before `${ms}-0`. */
const MAX_SEQUENCE = 18446744073709551615n;
const STREAM_ID = /^(\d+)(?:-(\d+))?$/;

/**
 * Key names. Streams are `<prefix><stream name>`; the driver's own keys put `@` after the
 * prefix, a character topics cannot contain, so no topic can collide with them.
 */
export class Keys {
  readonly topics: string;
  readonly events: string;
  readonly groups: string;
  /** Delayed messages: a sorted set of members by due time, their entries by member, and the counter that numbers them. */
  readonly delayed: [set: string, entries: string, counter: string];

  constructor(
    readonly prefix: string,
    /** Topics share a stream by this many leading tokens; Infinity: one stream per topic. */
    readonly streamTokens: number,
  ) {
    this.topics = `${prefix}@streams`;
    this.events = `${prefix}@events`;
    this.groups = `${prefix}@groups`;
    this.delayed = [`${prefix}@delayed`, `${prefix}@delayed:entries`, `${prefix}@delayed:counter`];
  }

  /** The stream a topic is stored in: the topic itself, or its first `streamTokens` tokens. */
  streamName(topic: string): string {
    if (this.streamTokens === Infinity) return topic;
    return topic.split('.', this.streamTokens).join('.');
  }

  stream(name: string): string {
    return this.prefix + name;
  }

  dedupe(id: string): string {
    return `${this.prefix}@id:${id}`;
  }

  /** Whether a stream can hold topics the pattern matches. */
  streamMatches(pattern: string, name: string): boolean {
    if (matchesPattern(pattern, name)) return true;
    if (this.streamTokens === Infinity) return false;
    // A stream named by `streamTokens` tokens also holds every longer topic that starts with them.
    return name.split('.').length === this.streamTokens && patternsOverlap(pattern, `${name}.>`);
  }

  /** Whether entries read from a stream must still be checked against the pattern. */
  get shared(): boolean {
    return this.streamTokens !== Infinity;
  }
}

/** The consumer group's name in Redis: the Omnibus group and the pattern, like the memory driver's groups. */
export function consumerGroupName(group: string, pattern: string): string {
  return `${group}|${pattern}`;
}

/** A stream id's two parts, or InvalidPositionError naming what is wrong with `seq`. */
function streamId(seq: string): [bigint, bigint] {
  const match = typeof seq === 'string' ? STREAM_ID.exec(seq) : null;
  const ms = match === null ? undefined : BigInt(match[1]);
  const n = match === null ? undefined : BigInt(match[2] ?? 0);
  if (ms === undefined || n === undefined || ms > MAX_SEQUENCE || n > MAX_SEQUENCE) {
    throw new InvalidPositionError(
      `redis: from { seq: ${JSON.stringify(seq)} } is not a Redis stream id ('<ms>-<n>' such as '1700000000000-0', ` +
        "each part at most 2^64-1); pass a seq this driver gave a message, or from { time }",
    );
  }
  return [ms, n];
}

/** Milliseconds since the epoch of a `{ time }` position, or InvalidPositionError. */
function timeOf(time: unknown): number {
  // Through Date, so numbers beyond its range (±8.64e15 ms) are no time either.
  const ms = typeof time === 'number' || time instanceof Date ? new Date(time).getTime() : NaN;
  if (Number.isNaN(ms)) {
    throw new InvalidPositionError(`redis: from { time: ${String(time)} } is not a time; pass a Date or milliseconds since the epoch`);
  }
  return Math.max(0, Math.floor(ms));
}

/** The stream id just before `seq`, for commands that start after an id (XREAD, XGROUP CREATE). */
export function positionBefore(seq: string): string {
  return idBefore(...streamId(seq));
}

function idBefore(ms: bigint, n: bigint): string {
  if (n > 0n) return `${ms}-${n - 1n}`;
  return ms > 0n ? `${ms - 1n}-${MAX_SEQUENCE}` : '0-0';
}

/**
 * The stream id just before where `from` starts: XREAD and XGROUP CREATE start after an id.
 * Throws InvalidPositionError for a seq that is no stream id or a time that is no time.
 */
export function positionBeforeStart(from: Exclude<From, 'latest'>): string {
  if (from === 'earliest') return '0-0';
  if (typeof from === 'object' && from !== null && 'seq' in from) return positionBefore(from.seq);
  if (typeof from === 'object' && from !== null && 'time' in from) return idBefore(BigInt(timeOf(from.time)), 0n);
  throw new InvalidPositionError(`redis: from ${JSON.stringify(from)} is not a position; use 'earliest', 'latest', { seq } or { time }`);
}

/** Where `from` starts, inclusive, as XRANGE takes it: '-' for the oldest entry. */
export function firstPosition(from: Exclude<From, 'latest'>): string {
  if (from === 'earliest') return '-';
  if (typeof from === 'object' && from !== null && 'seq' in from) return streamId(from.seq).join('-');
  if (typeof from === 'object' && from !== null && 'time' in from) return `${timeOf(from.time)}-0`;
  throw new InvalidPositionError(`redis: from ${JSON.stringify(from)} is not a position; use 'earliest', { seq } or { time }`);
}

/** Orders two stream ids as Redis does; both as Redis writes them ('<ms>-<n>', no leading zeros). */
export function compareIds(a: string, b: string): number {
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  return compareNumbers(a.slice(0, dashA), b.slice(0, dashB)) || compareNumbers(a.slice(dashA + 1), b.slice(dashB + 1));
}

function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const FIELD = { id: 'id', topic: 'topic', time: 'time', key: 'key', ttl: 'ttl', headers: 'headers', body: 'body' } as const;

/**
 * The XADD field/value list for one message in stream `streamName`; the body goes last and
 * untouched. `topic` is left out where it is the stream's name (read back from it): every
 * field costs the client and the server on each publish.
 */
export function entryFields(wire: WireMessage, streamName: string): Array<string | Buffer> {
  const fields: Array<string | Buffer> = [FIELD.id, wire.id];
  if (wire.topic !== streamName) fields.push(FIELD.topic, wire.topic);
  fields.push(FIELD.time, String(wire.time));
  if (wire.key !== undefined) fields.push(FIELD.key, wire.key);
  if (wire.ttlMs !== undefined) fields.push(FIELD.ttl, String(wire.ttlMs));
  // Headers of the JSON content type alone are left out; an entry with an `id` and no `headers` reads as JSON.
  if (!isJsonTypeOnly(wire.headers)) fields.push(FIELD.headers, headersJson(wire.headers));
  const { body } = wire;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // ioredis writes a command of strings alone as one string, but one holding a Buffer piece by
  // piece (measured: a third of a publish's time). Valid UTF-8 (any JSON body) goes as the text
  // it encodes, which Redis stores as the same bytes.
  fields.push(FIELD.body, isUtf8(bytes) ? bytes.toString('utf8') : bytes);
  return fields;
}

/**
 * The message stored in one entry. An entry a plain client added with only a `body` field
 * arrives on the stream's own name; one without `body` is not a message (undefined).
 */
export function parseEntry(seq: string, fields: Buffer[], streamName: string): WireMessage | undefined {
  let id: string | undefined;
  let topic: string | undefined;
  let time = 0;
  let key: string | undefined;
  let ttlMs: number | undefined;
  let headers: Record<string, string> | undefined;
  let body: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1];
    switch (fields[i].toString('latin1')) {
      case FIELD.id: id = value.toString(); break;
      case FIELD.topic: topic = value.toString(); break;
      case FIELD.time: time = Number(value.toString('latin1')); break;
      case FIELD.key: key = value.toString(); break;
      case FIELD.ttl: ttlMs = Number(value.toString('latin1')); break;
      case FIELD.headers: headers = parseHeaders(value.toString()); break;
      case FIELD.body: body = value; break;
    }
  }
  if (body === undefined) return undefined;
  // Our entries leave the JSON content type out; a plain client's (no id) carry no headers.
  headers ??= id === undefined ? {} : jsonTypeHeaders();
  return { id: id ?? seq, topic: topic ?? streamName, headers, key, time: time || idTime(seq), ttlMs, seq, body };
}

/** Headers as stored; a field some other writer filled with anything but a JSON object reads as none. */
function parseHeaders(text: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function idTime(seq: string): number {
  return Number(seq.slice(0, seq.indexOf('-')));
}

/** Whether a message's `ttlMs` has run out. */
export function expired(wire: WireMessage, now: number): boolean {
  return wire.ttlMs !== undefined && now > wire.time + wire.ttlMs;
}

/**
 * Stream read replies as [stream key, entries] pairs. RESP2 gives nested pairs; RESP3 (the
 * ioredis 6 default) gives a flat key, entries, key, entries list.
 */
export function streamReply(reply: unknown): Array<[string, Array<[Buffer, Buffer[] | null]>]> {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const pairs: Array<[string, Array<[Buffer, Buffer[] | null]>]> = [];
  if (Array.isArray(reply[0])) {
    for (const [key, entries] of reply as Array<[Buffer, Array<[Buffer, Buffer[] | null]>]>) pairs.push([key.toString(), entries]);
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1] as Array<[Buffer, Buffer[] | null]>]);
  }
  return pairs;
}
