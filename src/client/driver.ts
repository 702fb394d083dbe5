// A driver whose broker is a gateway: `new Bus({ drivers: { gateway: gatewayDriver({ url }) } })`
// gives the full Bus (retries, dead letters, typed events, streams) in a browser or another
// service. Payloads travel as JSON (bytes as base64), so it declares itself in-process: core
// hands it values, not encoded bytes. Only types are imported from core.

import type { Capabilities, Deliver, Driver, DriverEvent, DriverSubscription, SubscribeSpec, WireMessage } from '../core/driver.js';
import type { Published, PublishBatchReply, PublishReply, WelcomeFrame } from '../protocol/frames.js';
import { DEFAULT_LIMITS } from '../protocol/limits.js';
import { payloadOf } from '../protocol/payload.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { publishFields } from './wire.js';

let counter = 0;

export interface GatewayDriver extends Driver {
  /** Resolves once connected; the capabilities are the gateway's from then on. */
  ready(): Promise<void>;
}

/** Until the welcome says what the gateway's bus can do: nothing durable is promised, and groups are left to the gateway to judge. */
const BEFORE_WELCOME: Capabilities = {
  persistent: false,
  groups: true,
  replay: false,
  dedupe: false,
  ordering: 'key',
  nativeWildcards: true,
  maxPayloadBytes: DEFAULT_LIMITS.maxMessageBytes,
  ackDeadline: true,
  delayedDelivery: false,
};

/** The gateway's capabilities as this driver's: the gateway matches patterns itself, whatever its bus's drivers do. */
function capabilitiesOf(welcome: WelcomeFrame): Capabilities {
  const { drivers: _drivers, ...capabilities } = welcome.capabilities;
  return { ...capabilities, nativeWildcards: true };
}

export function gatewayDriver(options: ConnectionOptions): GatewayDriver {
  const connection = new Connection(options);
  const listeners: Array<(event: DriverEvent) => void> = [];
  connection.on('connectionLost', ({ reason }) => listeners.forEach((l) => l({ type: 'connectionLost', driver: 'gateway', error: reason })));
  connection.on('reconnected', () => listeners.forEach((l) => l({ type: 'reconnected', driver: 'gateway' })));
  connection.on('error', ({ error }) => listeners.forEach((l) => l({ type: 'error', driver: 'gateway', error })));
  // Read on every publish: worked out once per welcome.
  let welcome: WelcomeFrame | undefined;
  let capabilities = BEFORE_WELCOME;
  return {
    name: 'gateway',
    carriesValues: true,
    get capabilities(): Capabilities {
      if (connection.welcome !== welcome && connection.welcome !== undefined) {
        welcome = connection.welcome;
        capabilities = capabilitiesOf(welcome);
      }
      return capabilities;
    },
    ready: () => connection.opened(),

    async publish(batch: WireMessage[]): Promise<void> {
      const messages = batch.map((wire) =>
        publishFields({
          topic: wire.topic, id: wire.id, data: wire.value, key: wire.key, headers: wire.headers, ttlMs: wire.ttlMs,
          deliverAt: wire.deliverAt === undefined ? undefined : new Date(wire.deliverAt),
        }),
      );
      if (messages.length === 1) {
        const reply = await connection.request<PublishReply>('publish', (id) => ({ type: 'publish', id, ...messages[0] }));
        settle(batch[0], reply);
        return;
      }
      const reply = await connection.request<PublishBatchReply>('publish', (id) => ({ type: 'publish', id, messages }), messages.length);
      reply.results.forEach((result, i) => settle(batch[i], result));
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
            headers: frame.headers,
            key: frame.key,
            time: frame.time,
            ttlMs: frame.ttlMs,
            seq: frame.seq,
            body: new Uint8Array(0),
            value: payloadOf(frame),
          };
          void deliver({
            message,
            attempt: frame.attempt,
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

/** Sets what the gateway's reply says of a message on it, as a driver's publish does. */
function settle(wire: WireMessage, reply: Published): void {
  wire.seq = reply.seq;
  if (reply.duplicate === true) wire.duplicate = true;
}
