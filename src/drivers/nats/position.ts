// Where a JetStream consumer starts, for a subscription's or a read's `from`: a stream
// sequence (the `seq` a publish returned), a time, the oldest message or only new ones.

import type { ConsumerConfig } from '@nats-io/jetstream';
import type { From } from '../../core/driver.js';
import { InvalidPositionError } from '../../core/errors.js';

/** The deliver policy for `from`; throws InvalidPositionError for a seq or time that is none. */
export function startAt(from: From | undefined, topic: string): Partial<ConsumerConfig> {
  if (from === undefined || from === 'latest') return { deliver_policy: 'new' };
  if (from === 'earliest') return { deliver_policy: 'all' };
  if ('seq' in from) return { deliver_policy: 'by_start_sequence', opt_start_seq: sequence(from.seq, topic) };
  const time = new Date(from.time);
  if (Number.isNaN(time.getTime())) {
    throw new InvalidPositionError(`from: { time: ${String(from.time)} } is not a valid time; give a Date or milliseconds since the epoch`, { topic });
  }
  return { deliver_policy: 'by_start_time', opt_start_time: time.toISOString() };
}

/** A JetStream stream sequence: a positive integer (a string, as `seq` is everywhere; a number passes too). */
function sequence(seq: unknown, topic: string): number {
  const text = typeof seq === 'string' || typeof seq === 'number' ? String(seq) : '';
  const value = /^[1-9]\d*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new InvalidPositionError(
      `from: { seq: ${JSON.stringify(seq)} } is not a JetStream stream sequence; give a seq a publish or a delivery returned (a positive integer, as a string)`,
      { topic },
    );
  }
  return value;
}
