// Where a subscription or a read starts in each partition, for `from`: the oldest retained
// record, the end, the first record at or after a time, or a seq, which names one record:
// its own partition starts there and every other partition at that record's time.

import type { From } from '../../core/driver.js';
import { InvalidPositionError } from '../../core/errors.js';

export interface SeqPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

/** Parses `<topic>:<partition>:<offset>`, or throws InvalidPositionError saying what a seq is. */
export function parseSeq(seq: unknown, pattern: string): SeqPosition {
  const match = typeof seq === 'string' ? /^([A-Za-z0-9._-]+):(\d+):(\d+)$/.exec(seq) : null;
  if (match === null) {
    throw new InvalidPositionError(
      `kafka: from { seq: ${JSON.stringify(seq)} } is not a Kafka position; give a seq this driver gave a message ('<topic>:<partition>:<offset>'), or from { time }`,
      { topic: pattern },
    );
  }
  return { topic: match[1], partition: Number(match[2]), offset: BigInt(match[3]) };
}

/** Milliseconds since the epoch for `from: { time }`, or InvalidPositionError. */
export function parseTime(time: number | Date, pattern: string): number {
  const ms = new Date(time).getTime();
  if (Number.isNaN(ms)) {
    throw new InvalidPositionError(`kafka: from { time: ${String(time)} } is not a valid time; give a Date or milliseconds since the epoch`, { topic: pattern });
  }
  return ms;
}

/** What a start position resolves to before offsets are looked up. */
export type Start = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'time'; ms: number } | { kind: 'seq'; at: SeqPosition };

export function startOf(from: From | undefined, pattern: string): Start {
  if (from === undefined || from === 'latest') return { kind: 'latest' };
  if (from === 'earliest') return { kind: 'earliest' };
  if (typeof from === 'object' && from !== null && 'seq' in from) return { kind: 'seq', at: parseSeq(from.seq, pattern) };
  if (typeof from === 'object' && from !== null && 'time' in from) return { kind: 'time', ms: parseTime(from.time, pattern) };
  throw new InvalidPositionError(`kafka: from ${JSON.stringify(from)} is not a position; use 'earliest', 'latest', { seq } or { time }`, { topic: pattern });
}
