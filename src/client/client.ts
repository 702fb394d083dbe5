// `omnibus/client`: the Bus's shape (publish, subscribe, stream, close) over a gateway,
// for browsers, game clients and other services. Survives dropped connections.

import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import { ClosedError } from '../core/errors.js';
import type { Message, PublishResult, StoredMessage } from '../core/message.js';
import { Inbox, requestTimeout, type RequestOptions } from '../core/request-protocol.js';
import { assertPattern, assertTopic } from '../core/topic.js';
import { uuidv7 } from '../core/uuid.js';
import type { GatewayCapabilities, PublishBatchReply, PublishReply } from '../protocol/frames.js';
import { payloadOf } from '../protocol/payload.js';
import type { Channel, RemoteDelivery, ChannelSpec } from './channel.js';
import { Connection, type ConnectionEvents, type ConnectionOptions } from './connection.js';
import { MessageQueue } from './message-queue.js';
import { fromPublished, publishFields } from './wire.js';

export type ClientOptions = ConnectionOptions;

export interface ClientPublishOptions {
  /** The de-duplication key; also what makes a publish resent after a reconnect safe. Default a new UUIDv7. */
  id?: string;
  key?: string;
  headers?: Record<string, string>;
  ttlMs?: number;
  /** Hold the message this long before delivery (the gateway's bus needs `delayedDelivery`); not with `deliverAt`. */
  delayMs?: number;
  /** Deliver no earlier than this moment; as `delayMs`, which it excludes. */
  deliverAt?: Date;
}

export interface ClientPublishItem extends ClientPublishOptions {
  topic: string;
  data: unknown;
}

/**
 * Options of `client.subscribe`, with their defaults:
 * `group` none (fan-out); `from: 'latest'`; `ack: 'auto'` (resolving acks, throwing retries
 * after the backoff); `maxAttempts: 5` then `deadLetter` (a topic) at the gateway;
 * `backoff: { initialMs: 100, maxMs: 30_000 }`; `ackDeadlineMs: 30_000`.
 */
export interface ClientSubscribeOptions {
  group?: string;
  from?: ChannelSpec['from'];
  ack?: 'auto' | 'manual';
  maxAttempts?: number;
  deadLetter?: string;
  backoff?: BackoffOptions;
  ackDeadlineMs?: number;
}

export interface ClientSubscription {
  readonly pattern: string;
  readonly group: string | undefined;
  /** False once a resume could not recover everything missed (see the `gap` event). */
  readonly recovered: boolean;
  close(): Promise<void>;
}

export type ClientHandler<T = unknown> = (message: Message<T>) => unknown;

let subscriptionCounter = 0;

export class OmnibusClient {
  private readonly connection: Connection;
  private readonly subscriptions = new Set<ClientSubscription>();
  /** Where replies to this client's requests arrive: `_inbox.<uuid>`, subscribed on the first request. */
  private readonly inbox = new Inbox(uuidv7(), {
    subscribe: (topic, handler) => this.subscribe(topic, handler),
    publish: (topic, data, options) => this.publish(topic, data, options),
  });
  private closed = false;

  constructor(options: ClientOptions) {
    this.connection = new Connection(options);
  }

  /** Resolves once connected and authenticated. Publishing and subscribing do not need to wait for it. */
  ready(): Promise<void> {
    return this.connection.opened();
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /** What the gateway's bus can do: `{ replay, groups, persistent, ..., drivers }`; undefined until connected. */
  get capabilities(): GatewayCapabilities | undefined {
    return this.connection.welcome?.capabilities;
  }

  /** `connectionLost`, `reconnected`, `error`, `gap`. Returns a function that removes the listener. */
  on<K extends keyof ConnectionEvents>(type: K, listener: (event: ConnectionEvents[K]) => void): () => void {
    return this.connection.on(type, listener);
  }

  /** Resolves when the gateway's bus accepted the message (for durable drivers: persisted). */
  async publish(topic: string, data: unknown, options: ClientPublishOptions = {}): Promise<PublishResult> {
    assertTopic(topic);
    const fields = publishFields({ topic, data, ...options });
    const reply = await this.connection.request<PublishReply>('publish', (id) => ({ type: 'publish', id, ...fields }));
    return fromPublished(reply);
  }

  async publishMany(items: ReadonlyArray<ClientPublishItem>): Promise<PublishResult[]> {
    for (const item of items) assertTopic(item.topic);
    const messages = items.map(publishFields);
    const reply = await this.connection.request<PublishBatchReply>('publish', (id) => ({ type: 'publish', id, messages }), messages.length);
    return reply.results.map(fromPublished);
  }

  async subscribe<T = unknown>(pattern: string, handler: ClientHandler<T>, options: ClientSubscribeOptions = {}): Promise<ClientSubscription> {
    if (this.closed) throw new ClosedError('subscribe on a closed client', { topic: pattern });
    assertPattern(pattern);
    const manual = options.ack === 'manual';
    const queue = new MessageQueue(async (delivery: RemoteDelivery) => {
      const message = new ReceivedMessage<T>(delivery);
      try {
        await handler(message);
        // Not awaited, nor answered: the next message need not wait for the gateway, a lost
        // ack only means a redelivery, and the resume position has already moved.
        if (!manual) void delivery.ack(false);
      } catch {
        if (manual) return;
        await message.nack({ delayMs: backoffDelay(message.attempt, options.backoff) });
      }
    });
    const spec: ChannelSpec = {
      pattern,
      group: options.group,
      from: options.from,
      ack: 'client',
      maxAttempts: options.maxAttempts ?? 5,
      deadLetter: options.deadLetter,
      ackDeadlineMs: options.ackDeadlineMs,
    };
    const channel: Channel = await this.connection.subscribe(`s${++subscriptionCounter}`, spec, (delivery) => queue.push(delivery));
    const subscription: ClientSubscription = {
      pattern,
      group: options.group,
      get recovered() {
        return channel.recovered;
      },
      close: async () => {
        if (!this.subscriptions.delete(subscription)) return;
        await this.connection.unsubscribe(channel);
        for (const delivery of await queue.close()) void delivery.nack(0);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Sends a request to whatever responds on `topic` behind the gateway (`bus.respond`) and
   * resolves with the reply. The token needs publish on `topic` and subscribe on `_inbox.>`.
   * Fails with `TimeoutError` after `timeoutMs` (default 5 s), `RemoteError` when the responder threw.
   */
  request<R = unknown>(topic: string, data: unknown, options?: RequestOptions): Promise<StoredMessage<R>> {
    if (this.closed) return Promise.reject(new ClosedError('request on a closed client', { topic }));
    try {
      assertTopic(topic);
      return this.inbox.request<R>(topic, data, requestTimeout(topic, options), options?.headers);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Messages as an async iterator; settle each with `ack()`. Ends when `close()`d or the loop breaks. */
  stream<T = unknown>(pattern: string, options: Omit<ClientSubscribeOptions, 'ack'> = {}): AsyncIterableIterator<Message<T>> & { close(): Promise<void> } {
    const ready: Message<T>[] = [];
    const takers: Array<(result: IteratorResult<Message<T>>) => void> = [];
    let done = false;
    let failure: unknown;
    const subscribing = this.subscribe<T>(pattern, (message) => {
      const taker = takers.shift();
      if (taker !== undefined) taker({ value: message, done: false });
      else ready.push(message);
    }, { ...options, ack: 'manual' });
    subscribing.catch((error) => {
      failure = error;
      for (const taker of takers.splice(0)) taker(Promise.reject(error) as never);
    });
    const close = async () => {
      done = true;
      for (const taker of takers.splice(0)) taker({ value: undefined, done: true });
      for (const message of ready.splice(0)) void message.nack({ delayMs: 0 });
      await (await subscribing.catch(() => undefined))?.close();
    };
    const iterator = {
      next: (): Promise<IteratorResult<Message<T>>> => {
        if (failure !== undefined) return Promise.reject(failure);
        const message = ready.shift();
        if (message !== undefined) return Promise.resolve({ value: message, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => takers.push(resolve));
      },
      return: async (): Promise<IteratorResult<Message<T>>> => {
        await close();
        return { value: undefined, done: true };
      },
      close,
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Waits (up to 5 s) for publishes still unanswered, closes subscriptions, then the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inbox.close();
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await this.connection.close();
  }
}

/** A client for the gateway at `options.url`. */
export function createClient(options: ClientOptions): OmnibusClient {
  return new OmnibusClient(options);
}

/** A message as a handler sees it; a class, so a message costs no closures. */
class ReceivedMessage<T> implements Message<T> {
  readonly id: string;
  readonly topic: string;
  readonly data: T;
  readonly headers: Readonly<Record<string, string>>;
  readonly key: string | undefined;
  readonly time: number;
  readonly ttlMs: number | undefined;
  readonly seq: string | undefined;
  readonly attempt: number;

  constructor(private readonly delivery: RemoteDelivery) {
    const { frame } = delivery;
    this.id = frame.messageId;
    this.topic = frame.topic;
    this.data = payloadOf(frame) as T;
    this.headers = frame.headers;
    this.key = frame.key;
    this.time = frame.time;
    this.ttlMs = frame.ttlMs;
    this.seq = frame.seq;
    this.attempt = frame.attempt;
  }

  ack(): Promise<void> {
    return this.delivery.ack();
  }

  nack(options?: { delayMs?: number }): Promise<void> {
    return this.delivery.nack(options?.delayMs ?? 0);
  }

  inProgress(): Promise<void> {
    return this.delivery.inProgress();
  }

  reject(reason: string): Promise<void> {
    return this.delivery.reject(reason);
  }
}
