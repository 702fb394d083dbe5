// A bus for application tests: it records everything published through it and what its
// subscriptions did with each message, so a test can await a publish (`waitFor`), wait for
// the handlers to finish (`drain`) and read the outcomes (`consumed`).

import { Bus, type BusOptions } from '../core/bus.js';
import { jsonCodec } from '../core/codec.js';
import type { Deliver, Driver, SubscribeSpec, WireMessage } from '../core/driver.js';
import { memory } from '../drivers/memory/index.js';
import { Consumption, type ConsumedMessage, type DrainOptions } from './consumption.js';
import { payloadOf } from './payload.js';
import { PublishLog, type PublishedMessage, type WaitOptions } from './publish-log.js';

export interface TestBus extends Bus {
  /** The messages published so far whose topic matches `pattern` (default '>': all), in order. */
  published(pattern?: string): PublishedMessage[];
  /**
   * Resolves with the first message matching the pattern and predicate, published already or
   * still to come. Rejects with a `WaitTimeoutError` listing what was published instead.
   */
  waitFor(pattern: string, predicate?: (message: PublishedMessage) => boolean, options?: WaitOptions): Promise<PublishedMessage>;
  /**
   * Resolves once every message published to this bus's subscriptions has been delivered and
   * settled, retries included. Rejects with a `WaitTimeoutError` naming what is still running.
   */
  drain(options?: DrainOptions): Promise<void>;
  /** Each delivery this bus's subscriptions settled, with its outcome, in the order they settled. */
  consumed(pattern?: string): ConsumedMessage[];
}

/** A recording bus over `driver` (default: a fresh in-memory driver). */
export function createTestBus(options: Omit<BusOptions, 'drivers'> & { driver?: Driver } = {}): TestBus {
  const inner = options.driver ?? memory();
  const codec = options.codec ?? jsonCodec;
  const log = new PublishLog();
  const consumption = new Consumption((wire) => payloadOf(wire, codec));
  const recording: Driver = Object.create(inner, {
    publish: {
      // Recorded before handing over: in-process handlers may run (and publish) inside it.
      value: async (batch: WireMessage[]) => {
        const start = log.length;
        for (const wire of batch) {
          log.add({ id: wire.id, topic: wire.topic, data: payloadOf(wire, codec), headers: wire.headers, key: wire.key });
          consumption.published(wire);
        }
        try {
          await inner.publish(batch);
        } catch (error) {
          log.truncate(start, batch.length);
          batch.forEach((wire) => consumption.unpublished(wire));
          throw error;
        }
      },
    },
    subscribe: {
      value: (spec: SubscribeSpec, deliver: Deliver) => consumption.subscribe(spec, deliver, (tracked) => inner.subscribe(spec, tracked)),
    },
    close: {
      value: async () => {
        consumption.closed();
        await inner.close();
      },
    },
  });
  const bus = new Bus({ ...options, drivers: { [inner.name]: recording } }) as TestBus;
  bus.published = (pattern = '>') => log.matching(pattern);
  bus.waitFor = (pattern, predicate, waitOptions) => log.waitFor(pattern, predicate, waitOptions);
  bus.drain = (drainOptions) => consumption.drain(drainOptions);
  bus.consumed = (pattern = '>') => consumption.matching(pattern);
  return bus;
}
