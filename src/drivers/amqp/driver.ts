// The RabbitMQ driver: one durable topic exchange, published to on a confirm channel; a
// durable (quorum) queue per group and an exclusive server-named queue per fan-out
// subscription, each consumed on a channel of its own with manual acks. amqplib is loaded
// on first use and reconnects by itself; each connection declares everything again.

import type { ChannelModel, ConfirmChannel, Options, RecoveringChannelModel } from 'amqplib';
import { ClosedError, ConfigurationError, OmnibusError, PublishError, defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { failure } from '../../driver-kit/failure.js';
import { Observers } from '../../driver-kit/observers.js';
import { classify, DEFAULT_URL, hasQuorumQueues, openConnection, redact, writePassesWhole } from './connection.js';
import { AmqpConsumer, type ConsumerHost } from './consumer.js';
import { delaysExchange, redeliverLater } from './delays.js';
import { properties } from './wire.js';

export interface AmqpOptions {
  /** Broker address, `amqp://user:password@host:port/vhost` (`amqps://` for TLS). Default `amqp://guest:guest@127.0.0.1:5672`. */
  url?: string;
  /** The topic exchange every message goes through; it also prefixes the driver's queue names. Default `'omnibus'`. */
  exchange?: string;
  /** Unacked messages each subscription holds at most (basic.qos per consumer). Default 100. */
  prefetch?: number;
  /** Largest encoded payload accepted, a guard below RabbitMQ's `max_message_size` (128 MiB on 3.10). Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Backoff of reconnects after a lost connection, forever. Default 100 ms doubling to 5 s. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** The connection name RabbitMQ shows (`rabbitmqctl list_connections client_properties`). Default `'omnibus'`. */
  connectionName?: string;
}

/** What one connection has: the model its channels come from, and the publishing channel. */
interface Session {
  model: ChannelModel;
  /** Replaced by a new one when RabbitMQ closes it: publishes meanwhile wait for that. */
  publisher: Promise<ConfirmChannel>;
  /** The publishing channel while it is open, for publishes to go straight to. */
  open: ConfirmChannel | undefined;
}

class AmqpDriver implements Driver, ConsumerHost {
  readonly name = 'amqp';
  readonly capabilities: Capabilities;
  readonly exchange: string;
  readonly prefetch: number;
  quorum = true;
  private readonly url: string;
  private readonly connecting = new ConnectOnce((topic: string | undefined) => this.open(topic));
  private session: Session | undefined;
  private connections = 0;
  private readonly consumers = new Set<AmqpConsumer>();
  private readonly observers = new Observers();
  /** Why RabbitMQ closed a publishing channel, for the publishes it cut off. */
  private readonly closedBy = new WeakMap<ConfirmChannel, Error>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: AmqpOptions) {
    this.url = options.url ?? DEFAULT_URL;
    this.exchange = options.exchange ?? 'omnibus';
    if (this.exchange === '' || this.exchange.startsWith('amq.')) {
      throw new ConfigurationError(`amqp: exchange '${this.exchange}' is not allowed; RabbitMQ reserves '' and names starting with 'amq.' for its own exchanges`);
    }
    this.prefetch = options.prefetch ?? 100;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1 || this.prefetch > 65_535) {
      throw new ConfigurationError(`amqp: prefetch must be a whole number from 1 to 65535, got ${this.prefetch}`);
    }
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: false,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: true,
      maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: false,
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  async ready(): Promise<void> {
    this.assertOpen();
    await this.connect();
    this.current();
  }

  publish(batch: WireMessage[]): Promise<void> {
    const topic = batch[0]?.topic;
    if (this.closed) return this.publishAfterConnect(batch, topic);
    // The usual case, without a turn spent on waiting for what is there already.
    const channel = this.session?.open;
    return channel === undefined ? this.publishAfterConnect(batch, topic) : this.publishOn(channel, batch, topic);
  }

  private async publishAfterConnect(batch: WireMessage[], topic: string | undefined): Promise<void> {
    this.assertOpen(topic);
    await this.connect(topic);
    const session = this.current(topic);
    let channel: ConfirmChannel;
    try {
      channel = await session.publisher;
    } catch (thrown) {
      throw this.publishFailure(thrown, undefined, topic);
    }
    return this.publishOn(channel, batch, topic);
  }

  private async publishOn(channel: ConfirmChannel, batch: WireMessage[], topic: string | undefined): Promise<void> {
    try {
      await Promise.all(batch.map((wire) => this.confirmed(channel, this.exchange, wire.topic, wire.body, properties(wire))));
    } catch (thrown) {
      throw this.publishFailure(thrown, channel, topic);
    }
  }

  private publishFailure(thrown: unknown, channel: ConfirmChannel | undefined, topic: string | undefined): unknown {
    if (thrown instanceof OmnibusError) return thrown;
    // Its confirms only say "channel closed": the server's reason came just before, as the channel's error.
    const error = (channel && this.closedBy.get(channel)) ?? thrown;
    const reason = (error as Error)?.message ?? String(error);
    // A nack from the broker (the message was not stored) rather than a lost channel.
    if (/nack/i.test(reason)) return new PublishError(`amqp: RabbitMQ did not store the message to '${topic}': ${reason}`, { topic, cause: error });
    return failure(classify(error), `amqp: publish to '${topic}' failed before RabbitMQ confirmed it: ${reason}`, { topic, cause: error });
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    const topic = spec.pattern;
    this.assertOpen(topic);
    if (spec.group !== undefined && Buffer.byteLength(AmqpConsumer.groupQueue(this.exchange, spec.group, topic)) > 255) {
      throw new ConfigurationError(`amqp: the queue of group '${spec.group}' on '${topic}' would be named past RabbitMQ's 255 bytes; use a shorter group name or exchange`, { topic });
    }
    await this.connect(topic);
    const { model } = this.current(topic);
    const consumer = new AmqpConsumer(this, spec, deliver);
    try {
      await consumer.attach(model);
    } catch (error) {
      await consumer.close();
      throw failure(classify(error), `amqp: subscribing to '${topic}' failed: ${(error as Error).message}`, { topic, cause: error });
    }
    this.consumers.add(consumer);
    // A reconnect while it attached set up the new connection without it: attach it there too.
    const now = this.session?.model;
    if (now !== undefined && now !== model) await consumer.attach(now).catch((error: unknown) => this.report(error));
    return consumer;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // What consumers use (ConsumerHost).

  async redeliverLater(queue: string, message: { wire: WireMessage; attempt: number }, delayMs: number): Promise<void> {
    const publisher = await this.current(message.wire.topic).publisher;
    return redeliverLater(publisher, this.exchange, queue, message, delayMs, (channel, exchange, key, body, props) => this.confirmed(channel, exchange, key, body, props));
  }

  report(error: unknown): void {
    if (!this.closed) this.observers.emit({ type: 'error', driver: this.name, error });
  }

  forget(consumer: AmqpConsumer): void {
    this.consumers.delete(consumer);
  }

  // Connections.

  private connect(topic?: string): Promise<RecoveringChannelModel> {
    return this.connecting.get(topic);
  }

  private async open(topic: string | undefined): Promise<RecoveringChannelModel> {
    let connection: RecoveringChannelModel;
    try {
      connection = await openConnection({
        url: this.url,
        name: this.options.connectionName ?? 'omnibus',
        reconnect: { initialMs: this.options.reconnect?.initialMs ?? 100, maxMs: this.options.reconnect?.maxMs ?? 5_000 },
        setup: (model) => this.setup(model),
      });
    } catch (error) {
      if (error instanceof OmnibusError) throw error;
      const address = redact(this.url);
      const reason = (error as Error)?.message ?? String(error);
      if (classify(error) === 'refused') {
        throw failure('refused', `amqp: RabbitMQ at ${address} refused us: ${reason}; check the user, password and vhost in the url`, { topic, cause: error });
      }
      throw failure('connection', `amqp: cannot connect to ${address}: ${reason}; check the url and that rabbitmq-server is running`, { topic, cause: error });
    }
    connection.on('error', () => {});
    connection.on('disconnect', (error: Error) => {
      this.session = undefined;
      if (!this.closed) this.observers.emit({ type: 'connectionLost', driver: this.name, error });
    });
    if (this.closed) await connection.close();
    return connection;
  }

  /** Runs on every connection before it is used: the exchanges, the publishing channel, and every subscription again. */
  private async setup(model: ChannelModel): Promise<void> {
    model.on('error', () => {});
    writePassesWhole(model);
    const open = await this.openPublisher(model);
    this.quorum = hasQuorumQueues(model);
    for (const consumer of this.consumers) {
      // One subscription RabbitMQ now refuses (its queue redeclared with other arguments, say) must not keep the rest, and publishing, down;
      await consumer.attach(model).catch((error: unknown) => {
        // A lost connection fails the setup instead, so recovery tries again.
        if (classify(error) === 'connection') throw error;
        const { pattern } = consumer.spec;
        this.report(failure(classify(error), `amqp: resuming the subscription to '${pattern}' after a reconnect failed: ${(error as Error).message}`, { topic: pattern, cause: error }));
      });
    }
    this.session = { model, publisher: Promise.resolve(open), open };
    if (this.connections++ > 0) this.observers.emit({ type: 'reconnected', driver: this.name });
  }

  /** The confirm channel publishes go out on, with the exchanges declared. */
  private async openPublisher(model: ChannelModel): Promise<ConfirmChannel> {
    const publisher = await model.createConfirmChannel();
    publisher.on('error', (error: Error) => this.closedBy.set(publisher, error));
    // A channel error (say, the exchange deleted under us) closes only the channel: open another on the same connection.
    publisher.on('close', () => {
      const session = this.session;
      // Only a channel RabbitMQ closed on this connection: a lost connection closes every channel, and recovery opens new ones.
      if (session?.model !== model || this.closedBy.get(publisher) === undefined) return;
      session.open = undefined;
      const next = (session.publisher = this.openPublisher(session.model));
      next.then(
        (channel) => session.publisher === next && (session.open = channel),
        // The connection itself is going, then: recovery sets everything up again.
        () => {},
      );
    });
    await publisher.assertExchange(this.exchange, 'topic', { durable: true });
    await publisher.assertExchange(delaysExchange(this.exchange), 'headers', { durable: true });
    return publisher;
  }

  /** The connection's session; a ConnectionError while it is down (recovery is reconnecting). */
  private current(topic?: string): Session {
    if (this.session === undefined) {
      throw failure('connection', `amqp: the connection to ${redact(this.url)} is down; reconnecting`, { topic });
    }
    return this.session;
  }

  private confirmed(channel: ConfirmChannel, exchange: string, routingKey: string, body: Uint8Array, options: Options.Publish): Promise<void> {
    return new Promise((resolve, reject) => {
      channel.publish(exchange, routingKey, Buffer.from(body.buffer, body.byteOffset, body.byteLength), options, (error) => (error ? reject(error) : resolve()));
    });
  }

  private assertOpen(topic?: string): void {
    if (this.closed) throw new ClosedError('the amqp driver is closed', { topic });
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.close()));
    const connection = await this.connecting.current?.catch(() => undefined);
    this.session = undefined;
    // Closing the connection puts back, on RabbitMQ's side, whatever is still unacked.
    await connection?.close().catch(() => {});
  }
}

/** The RabbitMQ driver. Options and their defaults: `AmqpOptions`. */
export const amqp = defineDriver((options: AmqpOptions = {}): Driver => new AmqpDriver(options));
