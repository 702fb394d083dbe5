// JetStream mode: publishes wait for the stream's acknowledgement; groups are durable pull
// consumers, other subscriptions ephemeral ones; ack, nak with delay, working and term are
// the settle calls, and the delivery count is the attempt.

import { createHash, randomUUID } from 'node:crypto';
import type { ConsumerConfig, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Deliver, Delivery, DriverSubscription, From, SubscribeSpec, WireMessage } from '../../core/driver.js';
import { JetStreamMessage } from './message.js';
import { Puller } from './pull.js';
import type { StreamCatalog } from './streams.js';
import { expired, fromNats, toNatsHeaders, type MakeHeaders } from './wire.js';

export interface JetStreamLink {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  makeHeaders: MakeHeaders;
  streams: StreamCatalog;
  acks: AckBatch;
  subject(topic: string): string;
  topic(subject: string): string;
  /** Turns a client error into an Omnibus one. */
  fail(error: unknown, topic: string): Error;
  /** Reports a background problem on the bus. */
  report(error: unknown): void;
  isConnected(): boolean;
  settings: {
    publishTimeoutMs: number;
    pullBatch: number;
    pullExpiresMs: number;
    maxAckPending: number;
    ephemeralInactiveMs: number;
    confirmAcks: boolean;
  };
}

const DONE = Promise.resolve();

function isNoStream(error: unknown): boolean {
  const name = (error as Error)?.name;
  return name === 'JetStreamNotEnabled' || name === 'NoResponders' || (error as { code?: unknown })?.code === 503;
}

export async function publishJetStream(link: JetStreamLink, batch: WireMessage[]): Promise<void> {
  if (batch.length === 1) return publishOne(link, batch[0]);
  await Promise.all(batch.map((wire) => publishOne(link, wire)));
}

async function publishOne(link: JetStreamLink, wire: WireMessage): Promise<void> {
  const subject = link.subject(wire.topic);
  // The id travels in the Nats-Msg-Id header that toNatsHeaders sets, so no `msgID` option.
  const options = { headers: toNatsHeaders(wire, link.makeHeaders), timeout: link.settings.publishTimeoutMs };
  try {
    const ensuring = link.streams.beforePublish(subject);
    if (ensuring !== undefined) await ensuring;
    let ack;
    try {
      ack = await link.js.publish(subject, wire.body, options);
    } catch (error) {
      if (!isNoStream(error)) throw error;
      // The first message on a new topic root (or its stream was deleted): create it, publish again.
      link.streams.forget();
      await link.streams.ensureFor(subject, true);
      ack = await link.js.publish(subject, wire.body, options);
    }
    wire.seq = String(ack.seq);
  } catch (error) {
    throw link.fail(error, wire.topic);
  }
}

function startAt(from: From | undefined): Partial<ConsumerConfig> {
  if (from === undefined || from === 'latest') return { deliver_policy: 'new' };
  if (from === 'earliest') return { deliver_policy: 'all' };
  if ('seq' in from) return { deliver_policy: 'by_start_sequence', opt_start_seq: Math.max(1, Number(from.seq)) };
  return { deliver_policy: 'by_start_time', opt_start_time: new Date(from.time).toISOString() };
}

/** Durable names cannot hold '.', '*' or '>': the group plus a digest of its pattern. */
export function durableName(group: string, pattern: string): string {
  const digest = createHash('sha256').update(pattern).digest('hex').slice(0, 10);
  return `${group.replace(/[^A-Za-z0-9_-]/g, '_')}_${digest}`;
}

export async function subscribeJetStream(link: JetStreamLink, spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
  const filter = link.subject(spec.pattern);
  const streams = await link.streams.forPattern(filter);
  const parts = await Promise.all(streams.map((stream) => consume(link, stream, filter, spec, deliver)));
  return { close: async () => void (await Promise.all(parts.map((part) => part.close()))) };
}

async function consume(
  link: JetStreamLink,
  stream: string,
  filter: string,
  spec: SubscribeSpec,
  deliver: Deliver,
): Promise<DriverSubscription> {
  const { settings } = link;
  const config: Partial<ConsumerConfig> = {
    ack_policy: 'explicit',
    ack_wait: spec.ackDeadlineMs * 1_000_000,
    // Core counts attempts and dead-letters; the server must never give up on its own.
    max_deliver: -1,
    max_ack_pending: settings.maxAckPending,
    filter_subject: filter,
    ...startAt(spec.from),
  };
  let name: string;
  if (spec.group !== undefined) {
    name = durableName(spec.group, spec.pattern);
    config.durable_name = name;
    config.description = `omnibus group '${spec.group}' on '${spec.pattern}'`;
    try {
      await link.jsm.consumers.add(stream, config);
    } catch {
      // It exists with another configuration: keep its position, take the new deadline.
      await link.jsm.consumers.update(stream, name, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    }
  } else {
    config.inactive_threshold = settings.ephemeralInactiveMs * 1_000_000;
    name = (await link.jsm.consumers.add(stream, config)).name;
  }
  let lastReport = 0;
  const next = `${apiPrefix(link.jsm)}.CONSUMER.MSG.NEXT.${stream}.${name}`;
  // The server refuses a pull for more than max_ack_pending (when set) at once.
  const limit = settings.maxAckPending > 0 ? settings.maxAckPending : Infinity;
  const pulling = { batch: Math.max(1, Math.min(settings.pullBatch, limit)), expiresMs: settings.pullExpiresMs };
  const puller = new Puller(link.nc, inboxFor(link.nc), next, pulling, {
    receive: (m) => receive(link, m, deliver),
    handBack: (m) => {
      try {
        m.respond('-NAK');
      } catch {
        // The connection is gone: the server redelivers after the ack deadline.
      }
    },
    report: (error) => {
      // A pull fails while the server restarts; say so once in a while, not per request.
      if (Date.now() - lastReport < 10_000) return;
      lastReport = Date.now();
      link.report(error);
    },
    isConnected: link.isConnected,
  });
  let closed = false;
  return {
    close: async () => {
      if (closed) return;
      closed = true;
      await puller.close();
      if (spec.group === undefined) await link.jsm.consumers.delete(stream, name).catch(() => undefined);
    },
  };
}

function receive(link: JetStreamLink, msg: Msg, deliver: Deliver): void | Promise<void> {
  const m = new JetStreamMessage(msg, link.nc, link.settings.publishTimeoutMs);
  const wire = fromNats({
    topic: link.topic(msg.subject),
    body: msg.data,
    headers: msg.headers,
    fallbackId: () => `${m.stream}:${m.seq}`,
    fallbackTime: () => m.storedAt(),
    seq: String(m.seq),
  });
  if (expired(wire)) {
    m.term('expired');
    return;
  }
  return deliver(new JetStreamDelivery(wire, m, link.settings.confirmAcks ? undefined : link.acks));
}

/** The API prefix of the manager (`$JS.API`, or another for a domain). */
function apiPrefix(jsm: JetStreamManager): string {
  return (jsm as { prefix?: string }).prefix ?? '$JS.API';
}

function inboxFor(nc: NatsConnection): string {
  const prefix = (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix || '_INBOX';
  return `${prefix}.${randomUUID().replaceAll('-', '')}`;
}

/**
 * Acks gathered over one turn of the event loop and sent together: the client writes to the
 * socket once per microtask checkpoint, so acking one by one costs a write per message.
 */
export class AckBatch {
  private pending: JetStreamMessage[] = [];
  private scheduled = false;

  constructor(private readonly report: (error: unknown) => void) {}

  add(m: JetStreamMessage): void {
    this.pending.push(m);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what is gathered; the driver calls it before closing its connection. */
  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    try {
      for (const m of pending) m.ack();
    } catch (error) {
      // The connection closed under us: unsent acks mean redelivery, never loss.
      this.report(error);
    }
  }
}

class JetStreamDelivery implements Delivery {
  constructor(
    readonly message: WireMessage,
    private readonly m: JetStreamMessage,
    /** Undefined when acks are confirmed one by one. */
    private readonly acks: AckBatch | undefined,
  ) {}

  get attempt(): number {
    return this.m.deliveryCount;
  }

  ack(): Promise<void> {
    if (this.acks === undefined) return this.m.ackAck();
    this.acks.add(this.m);
    return DONE;
  }

  nack(delayMs = 0): Promise<void> {
    return settle(() => this.m.nak(delayMs > 0 ? delayMs : undefined));
  }

  inProgress(): Promise<void> {
    return settle(() => this.m.working());
  }

  reject(reason: string): Promise<void> {
    return settle(() => this.m.term(reason));
  }
}

function settle(send: () => void): Promise<void> {
  try {
    send();
    return DONE;
  } catch (error) {
    return Promise.reject(error);
  }
}
