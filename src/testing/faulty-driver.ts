// Wraps a driver to inject faults, so applications can test their handling of failed
// publishes, dropped connections and slow brokers.

import type { Deliver, Driver, DriverEvent, SubscribeSpec, WireMessage } from '../core/driver.js';
import { ConnectionError } from '../core/errors.js';
import { sleep } from './wait.js';

export interface Faults {
  /** Fail this many upcoming publishes with a ConnectionError. Default 0. */
  failPublishes?: number;
  /** Delay every publish by this long. Default 0. */
  publishDelayMs?: number;
}

export interface FaultyDriver extends Driver {
  /** Changes the faults from now on. */
  inject(faults: Faults): void;
  /** Simulates a dropped connection: publishes fail and `connectionLost` is reported until `reconnect()`. */
  disconnect(): void;
  reconnect(): void;
}

export function faulty(inner: Driver, initial: Faults = {}): FaultyDriver {
  let faults = { ...initial };
  let connected = true;
  const listeners: Array<(event: DriverEvent) => void> = [];
  inner.observe?.((event) => listeners.forEach((listener) => listener(event)));
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    carriesValues: inner.carriesValues,
    async publish(batch: WireMessage[]) {
      if (faults.publishDelayMs) await sleep(faults.publishDelayMs);
      if (!connected) throw new ConnectionError(`driver '${inner.name}' is disconnected (injected)`, { topic: batch[0]?.topic });
      if (faults.failPublishes) {
        faults.failPublishes--;
        throw new ConnectionError(`publish failed (injected)`, { topic: batch[0]?.topic });
      }
      await inner.publish(batch);
    },
    subscribe: (spec: SubscribeSpec, deliver: Deliver) => inner.subscribe(spec, deliver),
    observe: (listener) => void listeners.push(listener),
    close: () => inner.close(),
    inject(next) {
      faults = { ...faults, ...next };
    },
    disconnect() {
      connected = false;
      listeners.forEach((listener) => listener({ type: 'connectionLost', driver: inner.name }));
    },
    reconnect() {
      connected = true;
      listeners.forEach((listener) => listener({ type: 'reconnected', driver: inner.name }));
    },
  };
}
