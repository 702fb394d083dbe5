// What happens to a message its handler failed: redelivery with backoff until the attempts
// are spent, then the dead-letter topic with headers saying why, and a `deliveryFailed`
// event. A dead letter never goes back to a topic it already failed on.

import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { BusEventEmitter } from './bus-events.js';
import type { WireMessage } from './driver.js';
import { errorMessage, isRetriable, RejectedError } from './errors.js';
import { HEADER } from './message.js';
import { settleQuietly, type ReceivedMessage } from './received-message.js';
import type { Counters } from './stats.js';
import { matchesPattern } from './topic.js';

export interface FailureOptions {
  maxAttempts?: number;
  backoff?: BackoffOptions;
  deadLetter?: string;
  beforeDeadLetter?: (topic: string) => void;
}

/** What the policy needs of the bus. */
export interface FailureHost {
  readonly events: BusEventEmitter;
  deadLetter(topic: string, original: WireMessage, headers: Record<string, string>): Promise<void>;
  reportError(error: unknown, topic?: string): void;
  /** The name of the driver `topic` routes to. */
  driverOf(topic: string): string;
}

/** Why `deadLetter` cannot serve a subscription on `pattern`, or undefined when it can. */
export function deadLetterLoop(pattern: string, deadLetter: string): string | undefined {
  if (!matchesPattern(pattern, deadLetter)) return undefined;
  return `deadLetter '${deadLetter}' matches the subscription's own pattern '${pattern}', so every dead letter would fail again and make another; choose a topic outside it`;
}

/** The topics a message failed on, oldest first, ending with its own. */
function deadLetterPath(message: ReceivedMessage): string[] {
  const { headers } = message;
  const before = headers[HEADER.deadLetterPath] ?? headers[HEADER.originalTopic];
  return before === undefined || before === '' ? [message.topic] : [...before.split(','), message.topic];
}

export class FailurePolicy {
  private readonly maxAttempts: number;

  constructor(
    private readonly pattern: string,
    private readonly options: FailureOptions,
    private readonly host: FailureHost,
    private readonly counters: Counters,
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  }

  /** Redelivers after backoff, or dead-letters once attempts are spent or retrying cannot help. */
  async retry(message: ReceivedMessage, error: unknown, delayMs?: number): Promise<void> {
    if (message.settled) return;
    if (!isRetriable(error) || error instanceof RejectedError || message.attempt >= this.maxAttempts) {
      return this.deadLetter(message, error);
    }
    message.settled = true;
    this.counters.retried++;
    await this.quietly(() => message.delivery.nack(delayMs ?? backoffDelay(message.attempt, this.options.backoff)));
  }

  async deadLetter(message: ReceivedMessage, error: unknown): Promise<void> {
    if (message.settled) return;
    message.settled = true;
    const reason = errorMessage(error);
    // Subscriptions dead-lettering into each other's patterns (here or in another process)
    // would loop forever: a topic the message already failed on is never its dead letter.
    const path = deadLetterPath(message);
    const target = this.options.deadLetter;
    const topic = target === undefined || path.includes(target) ? undefined : target;
    try {
      if (topic !== undefined) {
        this.options.beforeDeadLetter?.(topic);
        await this.host.deadLetter(topic, message.delivery.message, {
          [HEADER.deadLetterPath]: path.join(','),
          [HEADER.originalTopic]: message.topic,
          [HEADER.originalId]: message.id,
          [HEADER.error]: reason,
          [HEADER.attempts]: String(message.attempt),
        });
      }
    } catch (publishError) {
      // Without a dead-letter copy the message must stay with the broker: retry later.
      this.host.reportError(publishError, topic);
      await this.quietly(() => message.delivery.nack(backoffDelay(message.attempt, this.options.backoff)));
      return;
    }
    this.counters.deadLettered++;
    await this.quietly(() => message.delivery.reject(reason));
    const { topic: from, id, attempt } = message;
    this.host.events.emit('deliveryFailed', { message, topic: from, id, driver: this.host.driverOf(from), error, attempts: attempt, deadLetter: topic, pattern: this.pattern });
  }

  private quietly(settle: () => void | Promise<void>): Promise<void> | undefined {
    return settleQuietly(settle, (error) => this.host.reportError(error, this.pattern));
  }
}
