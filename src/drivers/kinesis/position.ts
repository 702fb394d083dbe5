// Positions in a stream: a message's seq is `<stream>:<shard>:<sequence number>` (stream names
// and shard ids hold no ':'), and `from` says where each shard of a subscription starts.

import type { From } from '../../core/driver.js';
import { InvalidPositionError } from '../../core/errors.js';

export interface SeqPosition {
  stream: string;
  shard: string;
  sequence: string;
}

export function formatSeq(stream: string, shard: string, sequence: string): string {
  return `${stream}:${shard}:${sequence}`;
}

/** Parses a seq this driver gave, or throws InvalidPositionError saying what one is. */
export function parseSeq(seq: unknown, pattern: string): SeqPosition {
  const match = typeof seq === 'string' ? /^([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]+):(\d+)$/.exec(seq) : null;
  if (match === null) {
    throw new InvalidPositionError(
      `kinesis: from { seq: ${JSON.stringify(seq)} } is not a Kinesis position; give a seq this driver gave a message ('<stream>:<shard>:<sequence number>'), or from { time }`,
      { topic: pattern },
    );
  }
  return { stream: match[1], shard: match[2], sequence: match[3] };
}

/** Where a subscription or read starts, before shard iterators are asked for. */
export type Start = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'time'; ms: number } | { kind: 'seq'; at: SeqPosition };

export function startOf(from: From | undefined, pattern: string): Start {
  if (from === undefined || from === 'latest') return { kind: 'latest' };
  if (from === 'earliest') return { kind: 'earliest' };
  if (typeof from === 'object' && from !== null && 'seq' in from) return { kind: 'seq', at: parseSeq(from.seq, pattern) };
  if (typeof from === 'object' && from !== null && 'time' in from) {
    const ms = new Date(from.time).getTime();
    if (!Number.isNaN(ms)) return { kind: 'time', ms };
    throw new InvalidPositionError(`kinesis: from { time: ${String(from.time)} } is not a valid time; give a Date or milliseconds since the epoch`, { topic: pattern });
  }
  throw new InvalidPositionError(`kinesis: from ${JSON.stringify(from)} is not a position; use 'earliest', 'latest', { seq } or { time }`, { topic: pattern });
}
