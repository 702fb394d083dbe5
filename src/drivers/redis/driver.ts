// The Redis Streams driver: one stream per topic (or per topic prefix), XADD to publish,
// consumer groups with XREADGROUP/XACK/XAUTOCLAIM for groups, one shared XREAD for fan-out,
// XRANGE for history reads. The stored layout is documented in docs/redis.md; ioredis is
// loaded only when used.

import { randomUUID } from 'node:crypto';
import type { Redis, RedisOptions as IORedisOptions } from 'ioredis';
import { ClosedError, ConfigurationError, ConnectionError, OmnibusError, PublishError, defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type LagSpec, type ReadSpec, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { Coalescer } from '../../driver-kit/coalescer.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { failure } from '../../driver-kit/failure.js';
import { Observers } from '../../driver-kit/observers.js';
import { AckQueue } from './acks.js';
import { DelayedMessages } from './delayed.js';
import { classify, connectTyped, DEFAULT_URL, duplicateConnection, isConnectionError, publishFailed, redact } from './connection.js';
import { FanOutReader } from './fan-out-reader.js';
import { GroupReader } from './group-reader.js';
import { readHistory } from './history.js';
import { groupLag } from './lag.js';
import { consumerGroupName, firstPosition, Keys, positionBeforeStart } from './layout.js';
import { Publisher, PublishFailure } from './publisher.js';
import { RedisPubSubDriver } from './pubsub.js';
import type { ReaderHost, StreamReader } from './reader.js';
import { Tail } from './tail.js';

export interface RedisOptions {
  /**
   * `'streams'`: Redis Streams, durable, with groups and replay. `'pubsub'`: plain
   * PUBLISH/SUBSCRIBE on channels named by the topics, at most once, nothing kept: no groups,
   * replay or de-duplication (docs/redis.md). Default `'streams'`.
   */
  mode?: 'streams' | 'pubsub';
  /** Server address, `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** A client you already built. The driver duplicates it for blocking reads and leaves it open on close. */
  client?: Redis;
  /**
   * ioredis options for the connections the driver opens, over these defaults: reconnect every
   * `min(100 ms × attempt, 2 s)` forever; a command waits through at most 10 reconnect attempts
   * (about 5 s) before failing with `ConnectionError`; `connectTimeout` 5 s. Subscriptions wait
   * out outages of any length and resume by themselves.
   */
  connection?: IORedisOptions;
  /**
   * Prefix of every key the driver writes. Default `'omnibus:'`. In pub/sub mode, of every
   * channel name, default `''`: the channels are the topics, as other Redis clients name them.
   */
  keyPrefix?: string;
  /**
   * Topics share one stream by this many leading tokens (1: `orders.placed` and `orders.paid`
   * both go to stream `orders`, kept in one order). Default: one stream per topic.
   */
  streamTokens?: number;
  /**
   * What each stream keeps, trimmed approximately (`~`) on every XADD: at most `maxLength`
   * entries and nothing older than `maxAgeMs`. Default `{ maxLength: 100_000 }`; `{}` keeps everything.
   */
  retention?: { maxLength?: number; maxAgeMs?: number };
  /** Publishing an id again within this window stores it once (a key per id, set with the XADD). Default 0 (off). */
  dedupeWindowMs?: number;
  /** Entries per XREAD/XREADGROUP/XAUTOCLAIM call, and per stream per XRANGE chunk of a history read. Default 100. */
  batchSize?: number;
  /**
   * Unsettled entries one group member holds at most; it reads more only as they settle, so
   * busy members leave work to idle ones. Default 100.
   */
  prefetch?: number;
  /** How long one blocking read waits before it is issued again. Default 5,000 ms. */
  blockMs?: number;
  /** Largest encoded payload accepted; Redis itself allows up to `proto-max-bulk-len` (512 MB). Default 1 MiB. */
  maxPayloadBytes?: number;
}

/** A message on its way into a coalesced pipeline, and what went wrong with it, if anything. */
interface Pending {
  wire: WireMessage;
  failure: unknown;
}

class RedisDriver implements Driver, ReaderHost {
  readonly name = 'redis';
  readonly capabilities: Capabilities;
  readonly keys: Keys;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly prefetch: number;
  readonly tail: Tail;
  private readonly publisher: Publisher;
  /**
   * Concurrent publishes: a burst goes as one pipeline, and those arriving meanwhile fold into
   * the next, so a hundred awaited single publishes cost a round trip, not a hundred. Two
   * pipelines at a time: the connection runs them in order, and one travels while the other
   * is answered.
   */
  private readonly writes = new Coalescer<Pending>((items) => this.store(items), { maxItems: 1_000, inFlight: 2 });
  private readonly delayed: DelayedMessages;
  private connection: Redis | undefined;
  private readonly connecting = new ConnectOnce((topic: string | undefined) => this.open(topic));
  /** Whether the command connection is the driver's own (closed with it) rather than the application's client. */
  private owned = true;
  private connected = false;
  private events: Promise<Redis> | undefined;
  private readonly readers = new Set<StreamReader>();
  /** Group subscriptions, closed or not, whose unsettled deliveries go back to their groups on close. */
  private readonly groupReaders = new Set<GroupReader>();
  private readonly readerConnections = new Set<Redis>();
  private readonly observers = new Observers();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly acks: AckQueue;
  private readonly sending = new Set<Promise<unknown>>();
  private readonly detach: Array<() => void> = [];
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: RedisOptions) {
    const tokens = options.streamTokens ?? Infinity;
    if (!(tokens === Infinity || (Number.isInteger(tokens) && tokens > 0))) {
      throw new ConfigurationError(`redis: streamTokens must be a positive integer, got ${tokens}`);
    }
    this.keys = new Keys(options.keyPrefix ?? 'omnibus:', tokens);
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 5_000;
    this.prefetch = Math.max(1, options.prefetch ?? 100);
    this.tail = new Tail(this);
    this.acks = new AckQueue(this.keys, () => this.connection);
    const dedupeWindowMs = options.dedupeWindowMs ?? 0;
    this.publisher = new Publisher(this.keys, dedupeWindowMs, options.retention ?? { maxLength: 100_000 });
    this.delayed = new DelayedMessages({
      keys: this.keys,
      dedupeWindowMs,
      trim: () => this.publisher.trim(),
      client: () => (this.closed ? undefined : this.connection),
      failed: (error) => this.quietly(error),
    });
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: true,
      dedupe: dedupeWindowMs > 0,
      ...(dedupeWindowMs > 0 ? { dedupeWindowMs } : {}),
      ordering: 'key',
      nativeWildcards: false,
      maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: true,
    };
  }

  get client(): Redis {
    if (this.connection === undefined) throw new ConnectionError('redis: the driver is not connected yet');
    return this.connection;
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  /** Connects now; rejects with ConnectionError while Redis cannot be reached. */
  async ready(): Promise<void> {
    if (this.closed) throw new ClosedError('the redis driver is closed');
    await this.connect();
    if (!this.connected) throw new ConnectionError(`redis: the connection to ${redact(this.options.url ?? DEFAULT_URL)} is down; reconnecting`);
  }

  async publish(batch: WireMessage[]): Promise<void> {
    if (this.closed) throw new ClosedError('the redis driver is closed', { topic: batch[0]?.topic });
    const client = await this.connect(batch[0]?.topic);
    try {
      if (batch.some((wire) => wire.deliverAt !== undefined)) await this.publishHeld(client, batch);
      else await this.write(batch);
    } catch (error) {
      const { cause, topic } = error instanceof PublishFailure ? error : { cause: error, topic: batch[0].topic };
      throw publishFailed(cause, topic);
    }
  }

  /** Stores the batch with whatever else is being published; each message fails alone. */
  private async write(batch: WireMessage[]): Promise<void> {
    const pending: Pending[] = batch.map((wire) => ({ wire, failure: undefined }));
    await this.writes.add(pending);
    const failed = pending.find((item) => item.failure !== undefined);
    if (failed !== undefined) throw new PublishFailure(failed.failure, failed.wire.topic);
  }

  private async store(items: Pending[]): Promise<void> {
    const failures = await this.publisher.store(this.client, items.map((item) => item.wire));
    failures.forEach((failure, i) => (items[i].failure = failure));
  }

  /** A batch with delayed messages: those still ahead are held, the rest stored now. */
  private async publishHeld(client: Redis, batch: WireMessage[]): Promise<void> {
    const now = Date.now();
    const held = batch.filter((wire) => wire.deliverAt !== undefined && wire.deliverAt > now);
    const due = batch.filter((wire) => !held.includes(wire));
    await Promise.all([held.length > 0 ? this.delayed.hold(client, held) : undefined, due.length > 0 ? this.write(due) : undefined]);
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    if (this.closed) throw new ClosedError('the redis driver is closed', { topic: spec.pattern });
    // A bad position fails here, before anything is created in Redis.
    if (spec.from !== undefined && spec.from !== 'latest') positionBeforeStart(spec.from);
    await this.connect(spec.pattern);
    const reader = spec.group === undefined ? new FanOutReader(this, spec, deliver) : new GroupReader(this, spec, deliver);
    this.readers.add(reader);
    if (reader instanceof GroupReader) this.groupReaders.add(reader);
    try {
      // New streams (for wildcards) and claimable entries (for groups) are announced on one channel.
      await this.watch();
      await reader.start();
    } catch (error) {
      await reader.close();
      const kind = classify(error);
      if (kind === undefined) throw error;
      const what = kind === 'connection' ? 'failed, the server is unreachable' : 'was refused';
      throw failure(kind, `redis: subscribing to '${spec.pattern}' ${what}: ${(error as Error).message}`, { topic: spec.pattern, cause: error });
    }
    return reader;
  }

  /** A snapshot of what the matching streams hold from `spec.from` on, taken at the call; see redis/history.ts. */
  read(spec: ReadSpec): AsyncIterable<WireMessage> {
    const { pattern } = spec;
    if (this.closed) throw new ClosedError('the redis driver is closed', { topic: pattern });
    const start = firstPosition(spec.from);
    const client = () => {
      if (this.closed) throw new ClosedError('the redis driver closed during a history read', { topic: pattern });
      return this.client;
    };
    return readHistory({ keys: this.keys, batchSize: this.batchSize, client }, pattern, start, this.connect(pattern));
  }

  /** XINFO GROUPS `lag` plus `pending`, over the streams the pattern reads; see redis/lag.ts. */
  async lag(spec: LagSpec): Promise<number> {
    if (this.closed) throw new ClosedError('the redis driver is closed', { topic: spec.pattern });
    const client = await this.connect(spec.pattern);
    try {
      return await groupLag(client, this.keys, spec.pattern, consumerGroupName(spec.group, spec.pattern), () => this.streamNames());
    } catch (error) {
      const kind = classify(error) ?? 'connection';
      throw failure(kind, `redis: reading the lag of group '${spec.group}' on '${spec.pattern}' failed: ${(error as Error).message}`, { topic: spec.pattern, cause: error });
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // What subscriptions use (ReaderHost).

  openReader(): Redis {
    // A name of its own, after the application's if it gave one, by which its close finds it on the server.
    const name = `${this.client.options.connectionName ?? 'omnibus-reader'}-${randomUUID()}`;
    const reader = duplicateConnection(this.client, true, name);
    this.readerConnections.add(reader);
    reader.once('end', () => this.readerConnections.delete(reader));
    return reader;
  }

  streamNames(): Promise<string[]> {
    return this.client.smembers(this.keys.topics);
  }

  ack(key: string, group: string, id: string): Promise<void> {
    return this.acks.add(key, group, id);
  }

  wake(key: string, group: string): void {
    this.track(this.client.publish(this.keys.events, `claim ${group}\u0000${key}`).catch((error) => this.quietly(error)));
  }

  later(ms: number, work: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }

  report(error: unknown): void {
    this.emit({ type: 'error', driver: this.name, error });
  }

  forget(reader: StreamReader): void {
    this.readers.delete(reader);
    if (reader instanceof GroupReader && reader.unsettled.size === 0) this.groupReaders.delete(reader);
  }

  // Connections.

  private connect(topic?: string): Promise<Redis> {
    return this.connecting.get(topic);
  }

  private async open(topic: string | undefined): Promise<Redis> {
    const opened = await connectTyped(this.options, topic);
    const { client, owned } = opened;
    this.owned = owned;
    this.connected = true;
    const lost = () => {
      if (!this.connected || this.closed) return;
      this.connected = false;
      this.emit({ type: 'connectionLost', driver: this.name });
    };
    const back = () => {
      if (this.connected || this.closed) return;
      this.connected = true;
      this.publisher.registered.clear();
      void this.delayed.recheck();
      this.emit({ type: 'reconnected', driver: this.name });
    };
    client.on('close', lost);
    client.on('ready', back);
    this.detach.push(() => client.off('close', lost).off('ready', back));
    this.connection = client;
    void this.delayed.recheck();
    return client;
  }

  private watch(): Promise<Redis> {
    this.events ??= (async () => {
      const events = duplicateConnection(this.client, false);
      events.on('message', (_channel: string, message: string) => this.onEvent(message));
      let subscribed = false;
      events.on('ready', () => {
        // Notices sent while disconnected are lost: read the registry again.
        if (subscribed) void this.rescan();
      });
      try {
        await events.subscribe(this.keys.events);
      } catch (error) {
        events.disconnect();
        throw error;
      }
      subscribed = true;
      return events;
    })().catch((error) => {
      this.events = undefined;
      throw error;
    });
    return this.events;
  }

  private onEvent(message: string): void {
    const space = message.indexOf(' ');
    const kind = message.slice(0, space);
    const body = message.slice(space + 1);
    if (kind === 'stream') {
      for (const reader of this.readers) void reader.discover(body).catch((error) => this.report(error));
    } else if (kind === 'due') {
      this.delayed.expect(Number(body));
    } else if (kind === 'claim') {
      const [group, key] = body.split('\u0000');
      for (const reader of this.readers) {
        if (reader instanceof GroupReader && reader.group === group) reader.sweep(key);
      }
    }
  }

  private async rescan(): Promise<void> {
    try {
      const names = await this.streamNames();
      for (const reader of this.readers) for (const name of names) await reader.discover(name);
    } catch (error) {
      if (!isConnectionError(error)) this.report(error);
    }
  }

  async flushAcks(): Promise<void> {
    await this.acks.flush();
    await Promise.all(this.sending);
  }

  /** Background work whose failure has no caller: reported, unless the server is only unreachable. */
  private quietly(error: unknown): void {
    if (!isConnectionError(error) && !this.closed) this.report(error);
  }

  /** Keeps `sent` until it settles, so close waits for it; it must not reject. */
  private track(sent: Promise<unknown>): void {
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  private emit(event: DriverEvent): void {
    this.observers.emit(event);
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.delayed.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.readers].map((reader) => reader.close()));
    this.tail.close();
    const connection = this.connection;
    if (connection === undefined) return;
    // What this process still holds goes back to its groups at once, rather than after the deadline.
    await Promise.all([...this.groupReaders].map((reader) => reader.releaseUnsettled().catch(() => undefined)));
    this.groupReaders.clear();
    await this.flushAcks();
    for (const reader of this.readerConnections) reader.disconnect();
    const events = await this.events?.catch(() => undefined);
    events?.disconnect();
    for (const detach of this.detach.splice(0)) detach();
    if (this.owned) await connection.quit().catch(() => connection.disconnect());
  }
}

/** Options that mean something only for streams, refused in pub/sub mode rather than ignored. */
const STREAMS_ONLY = ['streamTokens', 'retention', 'dedupeWindowMs', 'batchSize', 'prefetch', 'blockMs'] as const;

/** The Redis driver, Streams or pub/sub by `mode`. Options and their defaults: `RedisOptions`. */
export const redis = defineDriver((options: RedisOptions = {}): Driver => {
  const mode = options.mode ?? 'streams';
  if (mode === 'streams') return new RedisDriver(options);
  if (mode !== 'pubsub') throw new ConfigurationError(`redis: mode must be 'streams' or 'pubsub', got '${String(mode)}'`);
  const given = STREAMS_ONLY.filter((name) => options[name] !== undefined);
  if (given.length > 0) {
    throw new ConfigurationError(`redis: ${given.join(', ')} ${given.length === 1 ? 'applies' : 'apply'} to streams only; pub/sub mode keeps nothing, so leave ${given.length === 1 ? 'it' : 'them'} out or use mode: 'streams'`);
  }
  return new RedisPubSubDriver(options);
});
