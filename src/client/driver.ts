// A driver whose broker is a gateway: `new Bus({ drivers: { gateway: gatewayDriver({ url }) } })`
// gives the full Bus (retries, dead letters, typed events, streams) in a browser or another
// service. Payloads travel as JSON (bytes as base64), so it declares itself in-process: core
// hands it values, not encoded bytes. Only types are imported from core.

import type { Capabilities, Deliver, Driver, DriverEvent, DriverSubscription, SubscribeSpec, WireMessage } from '../core/driver.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { payloadFields, payloadOf } from './wire.js';

let counter = 0;

export interface GatewayDriver extends Driver {
  /** Resolves once connected; the capabilities are the gateway's from then on. */
  ready(): Promise<void>;
}

const UNKNOWN: Capabilities = {
  persistent: false,
  groups: true,
  replay: false,
  dedupe: false,
  ordering: 'key',
  nativeWildcards: true,
  maxPayloadBytes: 256 * 1024,
  ackDeadline: true,
};

export function gatewayDriver(options: ConnectionOptions): GatewayDriver {
  const connection = new Connection(options);
  const listeners: Array<(event: DriverEvent) => void> = [];
  connection.on('connectionLost', ({ reason }) => listeners.forEach((l) => l({ type: 'connectionLost', driver: 'gateway', error: reason })));
  connection.on('reconnected', () => listeners.forEach((l) => l({ type: 'reconnected', driver: 'gateway' })));
  connection.on('error', ({ error }) => listeners.forEach((l) => l({ type: 'error', driver: 'gateway', error })));
  return {
    name: 'gateway',
    inProcess: true,
    get capabilities(): Capabilities {
      const c = connection.welcome?.capabilities;
      if (c === undefined) return UNKNOWN;
      return {
        persistent: c.persistent,
        groups: c.groups,
        replay: c.replay,
        dedupe: c.dedupe,
        ordering: c.ordering,
        nativeWildcards: true,
        maxPayloadBytes: c.maxPayloadBytes,
        ackDeadline: c.ackDeadline,
      };
    },
    ready: () => connection.opened(),

    async publish(batch: WireMessage[]): Promise<void> {
      const messages = batch.map((wire) => ({
        topic: wire.topic,
        messageId: wire.id,
        ...payloadFields(wire.value),
        ...(wire.key === undefined ? {} : { key: wire.key }),
        headers: wire.headers,
        ...(wire.ttlMs === undefined ? {} : { ttlMs: wire.ttlMs }),
      }));
      if (messages.length === 1) {
        const reply = await connection.request('publish', (id) => ({ type: 'publish', id, ...messages[0] }));
        batch[0].seq = reply.seq;
        return;
      }
      const reply = await connection.request('publish', (id) => ({ type: 'publish', id, messages }), messages.length);
      (reply.results as Array<{ seq?: string }>).forEach((result, i) => (batch[i].seq = result.seq));
    },

    async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
      const from = spec.from !== undefined && typeof spec.from === 'object' && 'time' in spec.from ? { time: new Date(spec.from.time).getTime() } : spec.from;
      const channel = await connection.subscribe(
        `d${++counter}`,
        // Core on this side counts attempts and dead-letters; the gateway only redelivers.
        { pattern: spec.pattern, group: spec.group, from, ack: 'client', ackDeadlineMs: spec.ackDeadlineMs, maxAttempts: 1_000_000_000 },
        (remote) => {
          const { frame } = remote;
          const message: WireMessage = {
            id: frame.messageId,
            topic: frame.topic,
            headers: frame.headers ?? {},
            key: frame.key,
            time: frame.time,
            ttlMs: frame.ttlMs,
            seq: frame.seq,
            body: new Uint8Array(0),
            value: payloadOf(frame),
          };
          void deliver({
            message,
            attempt: frame.attempt ?? 1,
            ack: () => remote.ack(),
            nack: (delayMs) => remote.nack(delayMs),
            inProgress: () => remote.inProgress(),
            reject: (reason) => remote.reject(reason),
          });
        },
      );
      return { close: () => connection.unsubscribe(channel) };
    },

    observe(listener) {
      listeners.push(listener);
    },

    close: () => connection.close(),
  };
}
