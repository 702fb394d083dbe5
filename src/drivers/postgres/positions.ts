// Where a subscription or a history read starts: `from` checked and turned into what the
// statements take, or an InvalidPositionError saying what a position looks like here.

import type { From } from '../../core/driver.js';
import { InvalidPositionError } from '../../core/errors.js';

const MAX_SEQ = 2n ** 63n - 1n;

export type Position = { earliest: true } | { latest: true } | { seq: string } | { timeMs: number };

/** A seq as the decimal bigint the log uses; InvalidPositionError for anything else. */
function seqOf(seq: unknown, pattern: string): string {
  if (typeof seq === 'string' && /^\d{1,19}$/.test(seq) && BigInt(seq) <= MAX_SEQ) return BigInt(seq).toString();
  throw new InvalidPositionError(
    `postgres: from { seq: ${JSON.stringify(seq)} } is not a PostgreSQL seq (a decimal number of at most 2^63-1); ` +
      'pass a seq this driver gave a message, or from { time }',
    { topic: pattern },
  );
}

/** Milliseconds since the epoch of a `{ time }` position; InvalidPositionError for what is no time. */
function timeOf(time: unknown, pattern: string): number {
  // Through Date, so numbers beyond its range (±8.64e15 ms) are no time either.
  const ms = typeof time === 'number' || time instanceof Date ? new Date(time).getTime() : NaN;
  if (Number.isNaN(ms)) {
    throw new InvalidPositionError(`postgres: from { time: ${String(time)} } is not a time; pass a Date or milliseconds since the epoch`, {
      topic: pattern,
    });
  }
  return ms;
}

/** `from` checked; throws InvalidPositionError for a seq that is no seq here, a time that is no time, or neither. */
export function positionOf(from: From, pattern: string): Position {
  if (from === 'earliest') return { earliest: true };
  if (from === 'latest') return { latest: true };
  if (typeof from === 'object' && from !== null && 'seq' in from) return { seq: seqOf(from.seq, pattern) };
  if (typeof from === 'object' && from !== null && 'time' in from) return { timeMs: timeOf(from.time, pattern) };
  throw new InvalidPositionError(`postgres: from ${JSON.stringify(from)} is not a position; use 'earliest', 'latest', { seq } or { time }`, {
    topic: pattern,
  });
}
