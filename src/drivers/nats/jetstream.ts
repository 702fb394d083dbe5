// JetStream mode: publishes wait for the stream's acknowledgement; groups are durable pull
// consumers, other subscriptions ephemeral ones; ack, nak with delay, working and term are
// the settle calls, and the delivery count is the attempt.

import { createHash, randomUUID } from 'node:crypto';
import type { ConsumerConfig, JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { Deliver, Delivery, DriverSubscription, SubscribeSpec, WireMessage } from '../../core/driver.js';
import type { AckTarget, ConfirmedAcks } from './acks.js';
import type { DelayedMessages } from './delayed.js';
import { JetStreamMessage } from './message.js';
import { startAt } from './position.js';
import { Puller } from './pull.js';
import type { StreamCatalog } from './streams.js';
import { expired, fromNats, toNatsHeaders, type MakeHeaders } from './wire.js';

export interface JetStreamLink {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  makeHeaders: MakeHeaders;
  streams: StreamCatalog;
  acks: ConfirmedAcks;
  delayed: DelayedMessages;
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
  if (wire.deliverAt !== undefined) return link.delayed.publish(wire);
  try {
    // The id travels in the Nats-Msg-Id header that toNatsHeaders sets, so no `msgID` option.
    const ack = await storeOnTopic(link, wire.topic, wire.body, toNatsHeaders(wire, link.makeHeaders));
    // A duplicate's PubAck carries the seq the id was first stored under.
    wire.seq = String(ack.seq);
    if (ack.duplicate) wire.duplicate = true;
  } catch (error) {
    throw link.fail(error, wire.topic);
  }
}

/** Stores a message on a topic's subject, creating the stream for it first when none captures it. */
export async function storeOnTopic(link: JetStreamLink, topic: string, body: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
  const subject = link.subject(topic);
  const options = { headers, timeout: link.settings.publishTimeoutMs };
  const ensuring = link.streams.beforePublish(subject);
  if (ensuring !== undefined) await ensuring;
  try {
    return await link.js.publish(subject, body, options);
  } catch (error) {
    if (!isNoStream(error)) throw error;
    // The first message on a new topic root (or its stream was deleted): create it, publish again.
    link.streams.forget();
    await link.streams.ensureFor(subject, true);
    return link.js.publish(subject, body, options);
  }
}

/** Durable names cannot hold '.', '*' or '>': the group plus a digest of its pattern. */
export function durableName(group: string, pattern: string): string {
  const digest = createHash('sha256').update(pattern).digest('hex').slice(0, 10);
  return `${group.replace(/[^A-Za-z0-9_-]/g, '_')}_${digest}`;
}

export async function subscribeJetStream(link: JetStreamLink, spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
  // Before anything is created: a bad position fails the call alone.
  const start = startAt(spec.from, spec.pattern);
  const filter = link.subject(spec.pattern);
  const streams = await link.streams.forPattern(filter);
  const parts = await Promise.all(streams.map((stream) => consume(link, stream, filter, start, spec, deliver)));
  return { close: async () => void (await Promise.all(parts.map((part) => part.close()))) };
}

async function consume(
  link: JetStreamLink,
  stream: string,
  filter: string,
  start: Partial<ConsumerConfig>,
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
    ...start,
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
  /** A fan-out subscription's consumer is deleted on close: its late acks have nothing left to settle. */
  const consumer: AckTarget = { pattern: spec.pattern, deleted: false };
  let lastReport = 0;
  const next = `${apiPrefix(link.jsm)}.CONSUMER.MSG.NEXT.${stream}.${name}`;
  // The server refuses a pull for more than max_ack_pending (when set) at once.
  const limit = settings.maxAckPending > 0 ? settings.maxAckPending : Infinity;
  const pulling = { batch: Math.max(1, Math.min(settings.pullBatch, limit)), expiresMs: settings.pullExpiresMs };
  const puller = new Puller(link.nc, inboxFor(link.nc), next, pulling, {
    receive: (m) => receive(link, m, consumer, deliver),
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
      if (spec.group !== undefined) return;
      consumer.deleted = true;
      await link.jsm.consumers.delete(stream, name).catch(() => undefined);
    },
  };
}

function receive(link: JetStreamLink, msg: Msg, consumer: AckTarget, deliver: Deliver): void | Promise<void> {
  const m = new JetStreamMessage(msg);
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
  return deliver(new JetStreamDelivery(wire, m, link.acks, consumer));
}

/** The API prefix of the manager (`$JS.API`, or another for a domain). */
export function apiPrefix(jsm: JetStreamManager): string {
  return (jsm as { prefix?: string }).prefix ?? '$JS.API';
}

/** A fresh inbox subject under the connection's inbox prefix. */
export function inboxFor(nc: NatsConnection): string {
  const prefix = (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix || '_INBOX';
  return `${prefix}.${randomUUID().replaceAll('-', '')}`;
}

class JetStreamDelivery implements Delivery {
  constructor(
    readonly message: WireMessage,
    private readonly m: JetStreamMessage,
    private readonly acks: ConfirmedAcks,
    private readonly consumer: AckTarget,
  ) {}

  get attempt(): number {
    return this.m.deliveryCount;
  }

  /** Resolves when the server confirmed it: the message is then never delivered again. */
  ack(): Promise<void> {
    return this.acks.ack(this.m, this.consumer);
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
