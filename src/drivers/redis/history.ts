// History reads (`Driver.read`): what the streams a pattern matches hold from a position up
// to each stream's last entry at the call, as one snapshot. Each stream is read in XRANGE
// chunks, and the streams are merged by entry id, so several topics come out in the order
// Redis stored them (an entry id is the millisecond it was stored, then a count per stream).

import type { Redis } from 'ioredis';
import { ConnectionError, isWildcard, matchesPattern, type WireMessage } from '../../core/index.js';
import { isConnectionError } from './connection.js';
import { compareIds, expired, parseEntry, type Keys } from './layout.js';
import { evalOnce, snapshotScript } from './scripts.js';

export interface HistoryHost {
  readonly keys: Keys;
  readonly batchSize: number;
  /** The command connection; throws ClosedError once the driver closed, which ends a read. */
  client(): Redis;
}

/** One stream being read: the next range to ask for, and the chunk in hand. */
interface Cursor {
  key: string;
  name: string;
  /** XRANGE start of the next chunk: inclusive at first, then '(' + the last id read. */
  next: string;
  /** The stream's last entry when the read began: nothing after it belongs to this read. */
  end: string;
  chunk: Array<[Buffer, Buffer[]]>;
  /** The last chunk came back short: the stream has nothing more up to `end`. */
  drained: boolean;
}

/**
 * Messages matching `pattern` from `start` (an XRANGE start, inclusive) up to the snapshot,
 * which is taken as soon as `connected` resolves: before anything this driver sends later.
 */
export function readHistory(host: HistoryHost, pattern: string, start: string, connected: Promise<unknown>): AsyncIterable<WireMessage> {
  const snapshot = connected.then(() => takeSnapshot(host, pattern, start));
  // A read nobody iterates must not leave an unhandled rejection behind.
  snapshot.catch(() => undefined);
  return (async function* () {
    try {
      yield* readSnapshot(host, pattern, snapshot);
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      throw new ConnectionError(`redis: reading the history of '${pattern}' failed, the server is unreachable: ${(error as Error).message}`, {
        topic: pattern,
        cause: error,
      });
    }
  })();
}

/**
 * Fixes what a read covers: the streams `pattern` matches now, each up to its last entry now,
 * in one command, so nothing sent after it on the same connection lands inside.
 */
async function takeSnapshot(host: HistoryHost, pattern: string, start: string): Promise<Cursor[]> {
  const { keys } = host;
  const args = isWildcard(pattern) ? ['prefix', literalPrefix(pattern)] : ['names', keys.streamName(pattern)];
  const reply = (await evalOnce(host.client(), snapshotScript, [keys.topics], [keys.prefix, ...args])) as string[];
  const cursors: Cursor[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const name = reply[i];
    if (!keys.streamMatches(pattern, name)) continue;
    cursors.push({ key: keys.stream(name), name, next: start, end: reply[i + 1], chunk: [], drained: false });
  }
  return cursors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The pattern up to its first wildcard, without the dot: every stream it can match starts with it. */
function literalPrefix(pattern: string): string {
  const tokens = pattern.split('.');
  const wild = tokens.findIndex((token) => token === '*' || token === '>');
  return tokens.slice(0, wild).join('.');
}

/** The snapshot's messages matching `pattern`, oldest first, one XRANGE chunk per stream at a time. */
async function* readSnapshot(host: HistoryHost, pattern: string, snapshot: Promise<Cursor[]>): AsyncGenerator<WireMessage> {
  let cursors = await snapshot;
  try {
    await Promise.all(cursors.map((cursor) => refill(host.client(), cursor, host.batchSize)));
    cursors = cursors.filter((cursor) => cursor.chunk.length > 0);
    while (cursors.length > 0) {
      // The oldest head among the streams; equal ids go in stream name order.
      let oldest = cursors[0];
      for (const cursor of cursors) if (compareIds(cursor.chunk[0][0].toString(), oldest.chunk[0][0].toString()) < 0) oldest = cursor;
      const [rawId, fields] = oldest.chunk.shift()!;
      const wire = parseEntry(rawId.toString(), fields, oldest.name);
      if (wire !== undefined && !expired(wire, Date.now()) && matchesPattern(pattern, wire.topic)) yield wire;
      if (oldest.chunk.length > 0) continue;
      // Only once the caller took the chunk's last entry: one that stops there asks for nothing more.
      await refill(host.client(), oldest, host.batchSize);
      if (oldest.chunk.length === 0) cursors = cursors.filter((cursor) => cursor !== oldest);
    }
  } finally {
    // A caller that stops early (break, throw) leaves nothing held.
    for (const cursor of cursors) cursor.chunk = [];
    cursors = [];
  }
}

async function refill(client: Redis, cursor: Cursor, batchSize: number): Promise<void> {
  if (cursor.drained) return;
  const chunk = (await client.callBuffer('XRANGE', cursor.key, cursor.next, cursor.end, 'COUNT', batchSize)) as Array<[Buffer, Buffer[]]>;
  cursor.chunk = chunk;
  cursor.drained = chunk.length < batchSize;
  if (chunk.length > 0) cursor.next = `(${chunk[chunk.length - 1][0].toString()}`;
}
