// Pub/sub mode: plain PUBLISH, SUBSCRIBE and PSUBSCRIBE, at most once. Redis keeps nothing,
// so there are no groups, no replay and no de-duplication; a nack or a lapsed ack deadline
// delivers again from this process. Channels are the topics (after `keyPrefix`, empty by
// default, so other Redis clients publish and subscribe on the same names); the frame on a
// channel is described in pubsub-wire.ts.

import type { Redis } from 'ioredis';
import { ClosedError, ConnectionError, LocalDeliveries, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { Observers } from '../../driver-kit/observers.js';
import { failure } from '../../driver-kit/failure.js';
import { classify, connectTyped, DEFAULT_URL, duplicateConnection, publishFailed, redact, type RedisConnectionOptions } from './connection.js';
import { Channels, type Listener } from './pubsub-channels.js';
import { encodeFrame } from './pubsub-wire.js';

export interface PubSubOptions extends RedisConnectionOptions {
  keyPrefix?: string;
  maxPayloadBytes?: number;
}

interface Link {
  client: Redis;
  channels: Channels;
}

export class RedisPubSubDriver implements Driver {
  readonly name = 'redis';
  readonly capabilities: Capabilities;
  private readonly link = new ConnectOnce((topic: string | undefined) => this.open(topic));
  private readonly observers = new Observers();
  private readonly subscriptions = new Set<PubSubSubscription>();
  private readonly detach: Array<() => void> = [];
  private owned = true;
  private connected = false;
  private closed = false;

  constructor(private readonly options: PubSubOptions) {
    this.capabilities = {
      persistent: false,
      groups: false,
      replay: false,
      dedupe: false,
      // One connection publishes, and Redis delivers a connection's messages in order.
      ordering: 'key',
      nativeWildcards: false,
      maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: false,
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  async ready(): Promise<void> {
    if (this.closed) throw new ClosedError('the redis driver is closed');
    await this.link.get(undefined);
    if (!this.connected) throw new ConnectionError(`redis: the connection to ${redact(this.options.url ?? DEFAULT_URL)} is down; reconnecting`);
  }

  async publish(batch: WireMessage[]): Promise<void> {
    if (this.closed) throw new ClosedError('the redis driver is closed', { topic: batch[0]?.topic });
    const { client, channels } = await this.link.get(batch[0]?.topic);
    if (batch.length === 1) {
      const [wire] = batch;
      await client.publish(channels.channel(wire.topic), encodeFrame(wire)).catch((error) => {
        throw publishFailed(error, wire.topic);
      });
      return;
    }
    const pipeline = client.pipeline();
    for (const wire of batch) pipeline.publish(channels.channel(wire.topic), encodeFrame(wire));
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await pipeline.exec()) as Array<[Error | null, unknown]>;
    } catch (error) {
      throw publishFailed(error, batch[0].topic);
    }
    results.forEach(([error], i) => {
      if (error !== null) throw publishFailed(error, batch[i].topic);
    });
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    if (this.closed) throw new ClosedError('the redis driver is closed', { topic: spec.pattern });
    const { channels } = await this.link.get(spec.pattern);
    const subscription = new PubSubSubscription(spec, deliver, channels, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    try {
      await channels.add(subscription);
    } catch (error) {
      await subscription.close();
      const kind = classify(error) ?? 'connection';
      throw failure(kind, `redis: subscribing to '${spec.pattern}' failed: ${(error as Error).message}`, { topic: spec.pattern, cause: error });
    }
    return subscription;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    const link = await this.link.current?.catch(() => undefined);
    if (link === undefined) return;
    for (const detach of this.detach.splice(0)) detach();
    link.channels.connection.disconnect();
    if (this.owned) await link.client.quit().catch(() => link.client.disconnect());
  }

  private async open(topic: string | undefined): Promise<Link> {
    const { client, owned } = await connectTyped(this.options, topic);
    this.owned = owned;
    this.connected = true;
    const lost = () => {
      if (!this.connected || this.closed) return;
      this.connected = false;
      this.observers.emit({ type: 'connectionLost', driver: this.name });
    };
    const back = () => {
      if (this.connected || this.closed) return;
      this.connected = true;
      this.observers.emit({ type: 'reconnected', driver: this.name });
    };
    client.on('close', lost);
    client.on('ready', back);
    this.detach.push(() => client.off('close', lost).off('ready', back));
    // Subscriptions are resent by ioredis when it reconnects; what was published meanwhile is lost.
    return { client, channels: new Channels(duplicateConnection(client, false), this.options.keyPrefix ?? '') };
  }
}

/**
 * One subscription: messages go to core in arrival order. While core's buffer is full, what
 * arrives waits here, since Redis cannot be asked to hold it.
 */
class PubSubSubscription implements Listener, DriverSubscription {
  readonly pattern: string;
  private readonly deliveries: LocalDeliveries;
  private readonly waiting: WireMessage[] = [];
  private blocked = false;
  private closed = false;

  constructor(
    spec: SubscribeSpec,
    deliver: Deliver,
    private readonly channels: Channels,
    private readonly forget: () => void,
  ) {
    this.pattern = spec.pattern;
    this.deliveries = new LocalDeliveries(spec.ackDeadlineMs, deliver);
  }

  arrive(wire: WireMessage): void {
    if (this.closed) return;
    if (this.blocked) this.waiting.push(wire);
    else this.hand(wire);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiting.length = 0;
    this.deliveries.close();
    this.forget();
    await this.channels.remove(this);
  }

  private hand(wire: WireMessage): void {
    const wait = this.deliveries.hand(wire);
    if (wait === undefined) return;
    this.blocked = true;
    void wait.then(() => this.resume(), () => this.resume());
  }

  private resume(): void {
    this.blocked = false;
    while (!this.blocked && !this.closed && this.waiting.length > 0) this.hand(this.waiting.shift()!);
  }
}
