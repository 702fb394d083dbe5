// A message as a handler receives it: the delivery's fields, the decoded payload, and the
// settle calls, which go to the subscription's failure policy when they are not an ack.

import type { Counters } from './stats.js';
import type { Delivery } from './driver.js';
import { RejectedError } from './errors.js';
import type { Message } from './message.js';

const DONE = Promise.resolve();

/** What a received message's settle calls need of its subscription. */
export interface Settling {
  readonly counters: Counters;
  retry(message: ReceivedMessage, error: unknown, delayMs?: number): Promise<void>;
  deadLetter(message: ReceivedMessage, error: unknown): Promise<void>;
}

export class ReceivedMessage implements Message {
  settled = false;
  readonly id: string;
  readonly topic: string;
  readonly headers: Record<string, string>;
  readonly key: string | undefined;
  readonly time: number;
  readonly ttlMs: number | undefined;
  readonly seq: string | undefined;
  readonly attempt: number;

  constructor(
    readonly delivery: Delivery,
    readonly data: unknown,
    private readonly settling: Settling,
  ) {
    const wire = delivery.message;
    this.id = wire.id;
    this.topic = wire.topic;
    this.headers = wire.headers;
    this.key = wire.key;
    this.time = wire.time;
    this.ttlMs = wire.ttlMs;
    this.seq = wire.seq;
    this.attempt = delivery.attempt;
  }

  ack(): Promise<void> {
    if (this.settled) return DONE;
    this.settled = true;
    this.settling.counters.acked++;
    return this.delivery.ack() ?? DONE;
  }

  nack(options?: { delayMs?: number }): Promise<void> {
    return this.settling.retry(this, new Error('nacked by the handler'), options?.delayMs);
  }

  inProgress(): Promise<void> {
    return this.delivery.inProgress() ?? DONE;
  }

  reject(reason: string): Promise<void> {
    return this.settling.deadLetter(this, new RejectedError(reason, { topic: this.topic }));
  }

  toJSON(): object {
    const { id, topic, data, headers, key, time, seq, attempt } = this;
    return { id, topic, data, headers, key, time, seq, attempt };
  }
}

/** Runs a settle call whose failure has no caller to go to: `report` gets it instead. */
export function settleQuietly(settle: () => void | Promise<void>, report: (error: unknown) => void): Promise<void> | undefined {
  try {
    const result = settle();
    if (result !== undefined) return result.catch(report);
  } catch (error) {
    report(error);
  }
  return undefined;
}
