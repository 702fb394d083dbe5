// `bus.writer()` for loops that must not await or throw: `write()` validates on the spot
// and returns a result; a publish that fails after that arrives as a bus `deliveryFailed`
// event, with the topic, the id and the driver.

import { uuidv7 } from './uuid.js';
import { OmnibusError } from './errors.js';
import { validateNow, type Target } from './event.js';
import type { PublishOptions, PublishResult } from './message.js';

export type WriteResult = { ok: true; id: string } | { ok: false; error: OmnibusError };

/** Builds the message synchronously (throwing on bad input) and returns the send in flight. */
type Send = (topic: string, data: unknown, options: PublishOptions) => Promise<PublishResult>;

export class Writer<T> {
  constructor(
    private readonly target: Target<T>,
    private readonly send: Send,
    private readonly report: (error: unknown, topic: string, id: string) => void,
  ) {}

  write(data: T, options: PublishOptions = {}): WriteResult {
    const target = this.target;
    const topic = typeof target === 'string' ? target : target.topic;
    let value: unknown = data;
    if (typeof target !== 'string') {
      const outcome = validateNow(target, data, topic);
      if ('error' in outcome) return { ok: false, error: outcome.error };
      value = outcome.value;
    }
    const id = options.id ?? uuidv7();
    try {
      this.send(topic, value, { ...options, id }).catch((error) => this.report(error, topic, id));
    } catch (error) {
      if (error instanceof OmnibusError) return { ok: false, error };
      throw error;
    }
    return { ok: true, id };
  }
}
