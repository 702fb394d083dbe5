// What a test bus has published, in order, and the waits on it: `published(pattern)` reads
// the log, `waitFor` resolves on the first match, recorded already or still to come.

import { assertPattern, matchesPattern } from '../core/topic.js';
import { preview } from './payload.js';
import { WaitTimeoutError } from './wait.js';

export interface PublishedMessage {
  id: string;
  topic: string;
  data: unknown;
  headers: Record<string, string>;
  key?: string;
}

export interface WaitOptions {
  /** How long to wait for a match. Default 5,000 ms. */
  timeoutMs?: number;
}

type Predicate = (message: PublishedMessage) => boolean;
type Waiter = { pattern: string; predicate: Predicate; resolve(message: PublishedMessage): void };

/** How many recent publishes a timeout lists. */
const LISTED = 10;

export class PublishLog {
  private readonly messages: PublishedMessage[] = [];
  private readonly waiters = new Set<Waiter>();

  get length(): number {
    return this.messages.length;
  }

  add(message: PublishedMessage): void {
    this.messages.push(message);
    for (const waiter of this.waiters) {
      if (matchesPattern(waiter.pattern, message.topic) && waiter.predicate(message)) {
        this.waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  }

  /** Forgets what a failed publish recorded from `start` on: the driver never took it. */
  truncate(start: number, count: number): void {
    this.messages.splice(start, count);
  }

  matching(pattern: string): PublishedMessage[] {
    assertPattern(pattern);
    return this.messages.filter((message) => matchesPattern(pattern, message.topic));
  }

  waitFor(pattern: string, predicate: Predicate = () => true, options: WaitOptions = {}): Promise<PublishedMessage> {
    try {
      assertPattern(pattern);
    } catch (error) {
      return Promise.reject(error);
    }
    const found = this.messages.find((message) => matchesPattern(pattern, message.topic) && predicate(message));
    if (found !== undefined) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new WaitTimeoutError(this.missed(pattern, predicate, timeoutMs), { topic: pattern }));
      }, timeoutMs);
      const waiter: Waiter = {
        pattern,
        predicate,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Why a wait failed: nothing matched, and here is what was published instead. */
  private missed(pattern: string, predicate: Predicate, timeoutMs: number): string {
    const head = `no message matching '${pattern}' was published within ${timeoutMs} ms`;
    const all = this.messages;
    if (all.length === 0) return `${head}; nothing was published`;
    const onPattern = all.filter((message) => matchesPattern(pattern, message.topic)).length;
    const rejected = onPattern > 0 ? ` (${onPattern} on '${pattern}' failed the predicate)` : '';
    const shown = all.slice(-LISTED).map((message) => preview(message.topic, message.data));
    const earlier = all.length > LISTED ? `, and ${all.length - LISTED} earlier` : '';
    return `${head}; saw ${all.length}${rejected}: ${shown.join(', ')}${earlier}`;
  }
}
