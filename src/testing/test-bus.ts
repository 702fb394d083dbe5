// A bus for application tests: everything published through it is recorded, and
// `waitFor` resolves when a matching message has been published.

import { Bus, type BusOptions } from '../core/bus.js';
import type { Driver, WireMessage } from '../core/driver.js';
import { matchesPattern } from '../core/topic.js';
import { memory } from '../drivers/memory/index.js';

export interface PublishedMessage {
  id: string;
  topic: string;
  data: unknown;
  headers: Record<string, string>;
  key?: string;
}

export interface TestBus extends Bus {
  /** Every message published so far, in order. */
  readonly published: ReadonlyArray<PublishedMessage>;
  /** Resolves with the first message (already published or still to come) matching the pattern and predicate. */
  waitFor(pattern: string, predicate?: (message: PublishedMessage) => boolean, timeoutMs?: number): Promise<PublishedMessage>;
}

type Waiter = { pattern: string; predicate: (message: PublishedMessage) => boolean; resolve(message: PublishedMessage): void };

/** A recording bus over `driver` (default: a fresh in-memory driver). */
export function createTestBus(options: Omit<BusOptions, 'drivers'> & { driver?: Driver } = {}): TestBus {
  const inner = options.driver ?? memory();
  const published: PublishedMessage[] = [];
  const waiters = new Set<Waiter>();
  const record = (wire: WireMessage): void => {
    const message: PublishedMessage = {
      id: wire.id,
      topic: wire.topic,
      data: 'value' in wire ? wire.value : wire.body,
      headers: wire.headers,
      key: wire.key,
    };
    published.push(message);
    for (const waiter of waiters) {
      if (matchesPattern(waiter.pattern, message.topic) && waiter.predicate(message)) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  };
  const recording: Driver = Object.create(inner, {
    publish: {
      // Recorded before handing over: in-process handlers may run (and publish) inside it.
      value: async (batch: WireMessage[]) => {
        const start = published.length;
        batch.forEach(record);
        try {
          await inner.publish(batch);
        } catch (error) {
          published.splice(start, batch.length);
          throw error;
        }
      },
    },
  });
  const bus = new Bus({ ...options, drivers: { [inner.name]: recording } }) as TestBus;
  Object.defineProperty(bus, 'published', { get: () => published });
  bus.waitFor = (pattern, predicate = () => true, timeoutMs = 5_000) => {
    const found = published.find((message) => matchesPattern(pattern, message.topic) && predicate(message));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pattern,
        predicate,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no message matching '${pattern}' was published within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  return bus;
}
