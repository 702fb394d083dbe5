// The NATS driver: JetStream streams and pull consumers for durable, at-least-once topics,
// or plain NATS subjects for at-most-once events. Topics are NATS subjects as they are, so
// plain NATS clients publish to and read from the same subjects.

import type { StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { ClosedError, ConfigurationError, DEFAULT_DEDUPE_WINDOW_MS, ConnectionError, OmnibusError, defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type LagSpec, type ReadSpec, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { failure } from '../../driver-kit/failure.js';
import { Observers } from '../../driver-kit/observers.js';
import { loadPeer } from '../../driver-kit/peer.js';
import { CoreGroups, publishCore, subscribeCore, type CoreLink } from './core.js';
import { ConfirmedAcks } from './acks.js';
import { DelayedMessages } from './delayed.js';
import { readJetStream } from './history.js';
import { inboxFor, publishJetStream, subscribeJetStream, type JetStreamLink } from './jetstream.js';
import { jetStreamLag } from './lag.js';
import { NatsRequests } from './requests.js';
import { StreamCatalog } from './streams.js';


export interface NatsOptions {
  /** Server address or addresses. Default `'nats://127.0.0.1:4222'`. */
  servers?: string | string[];
  /** A connection the application already opened; the driver uses it and never closes it. Default: the driver connects. */
  connection?: NatsConnection;
  /**
   * More options for the driver's own connection: credentials, TLS, name. Default none, but for
   * `noAsyncTraces: true` (nats.js's async stack traces cost 40% of a publish).
   */
  connectOptions?: Partial<NodeConnectionOptions>;
  /**
   * `'jetstream'`: topics live on streams, publish waits until stored, at-least-once with
   * groups, replay and de-duplication. `'core'`: plain subjects, at-most-once, nothing kept.
   * Default `'jetstream'`.
   */
  mode?: 'jetstream' | 'core';
  /** Put in front of every topic on the wire: topic `a.b` is subject `<prefix>.a.b`. Default `''` (the topic is the subject). */
  subjectPrefix?: string;
  /**
   * A topic with no stream yet gets one named `<streamPrefix>_<root>` that captures `<root>`
   * and `<root>.>`; an existing stream that captures the subject is used as it is. Default `'OMNIBUS'`.
   */
  streamPrefix?: string;
  /** How many leading topic tokens form the root of a created stream. Default 1 (`orders.placed` -> `OMNIBUS_orders`). */
  streamTokens?: number;
  /** More configuration for streams the driver creates (`max_age`, `max_bytes`, `num_replicas`, ...). Default: file storage, no limits. */
  stream?: Partial<StreamConfig>;
  /** The `duplicate_window` of created streams: an id published again within it is stored once. Default `DEFAULT_DEDUPE_WINDOW_MS`, 2 minutes. */
  dedupeWindowMs?: number;
  /** How long a publish waits for the stream's acknowledgement before a ConnectionError. Default 5,000 ms. */
  publishTimeoutMs?: number;
  /** How long connecting may take before a ConnectionError. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** Messages each subscriber has asked the server for or holds, at most; it asks for more once under half remain, so a pull is always open. Default 256. */
  pullBatch?: number;
  /** How long one pull request stays open on the server; heartbeats every half of it tell a lost pull, which is then asked again. Default 5,000 ms (minimum 1,000). */
  pullExpiresMs?: number;
  /** Unacknowledged messages a consumer may have out (`max_ack_pending`). Default 1,000. */
  maxAckPending?: number;
  /** How long the server keeps a non-group subscription's consumer after its client vanished. Default 60,000 ms. */
  ephemeralInactiveMs?: number;
  /**
   * How long `ack()` waits for the server to confirm that it recorded the ack (JetStream's
   * acknowledged ack; the acks of one event-loop turn go out together). Without a confirmation
   * in time, `ack()` rejects with ConnectionError and the message is delivered again after its
   * ack deadline, unless the ack did reach the server. Default 5,000 ms.
   */
  ackTimeoutMs?: number;
  /** Largest payload accepted. Default 1 MiB (nats-server's default `max_payload`) less 8 KiB for headers. */
  maxPayloadBytes?: number;
}

type Transport = typeof import('@nats-io/transport-node');
type JetStreamModule = typeof import('@nats-io/jetstream');

interface Link extends JetStreamLink, CoreLink {}

/** Client errors that mean the server (or its JetStream) is unreachable for now. */
const TRANSIENT = new Set(['TimeoutError', 'NoResponders', 'RequestError', 'ConnectionError', 'JetStreamNotEnabled']);

const DEFAULT_MAX_PAYLOAD = 1024 * 1024 - 8 * 1024;

class NatsDriver implements Driver {
  readonly name = 'nats';
  readonly capabilities: Capabilities;
  private readonly mode: 'jetstream' | 'core';
  private readonly subjectPrefix: string;
  private readonly link = new ConnectOnce((topic: string | undefined) => this.connect(topic));
  private readonly observers = new Observers();
  private readonly subscriptions = new Set<DriverSubscription>();
  private readonly groups = new CoreGroups();
  private connected = true;
  private closed = false;
  /** JetStream mode only: core subjects keep nothing, so a group there has no lag to tell. */
  readonly lag?: (spec: LagSpec) => Promise<number>;
  /** Request/reply on core NATS subjects, outside the streams (requests.ts). */
  readonly requests = new NatsRequests(
    (topic) => {
      if (this.closed) return Promise.reject(new ClosedError('the nats driver is closed', { topic }));
      return this.link.get(topic);
    },
    (subscription) => this.track(subscription),
  );

  constructor(private readonly options: NatsOptions) {
    this.mode = options.mode ?? 'jetstream';
    if (this.mode !== 'jetstream' && this.mode !== 'core') {
      throw new ConfigurationError(`nats mode must be 'jetstream' or 'core', got '${String(options.mode)}'`);
    }
    this.subjectPrefix = options.subjectPrefix ?? '';
    const durable = this.mode === 'jetstream';
    if (durable) this.lag = (spec) => this.jetStreamLag(spec);
    this.capabilities = {
      persistent: durable,
      groups: true,
      replay: durable,
      dedupe: durable,
      ...(durable ? { dedupeWindowMs: options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS } : {}),
      ordering: 'key',
      nativeWildcards: true,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD,
      ackDeadline: durable,
      delayedDelivery: durable,
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  /** Connects now; rejects with ConnectionError while NATS cannot be reached. */
  async ready(): Promise<void> {
    if (this.closed) throw new ClosedError('the nats driver is closed');
    await this.link.get(undefined);
    if (!this.connected) throw new ConnectionError(`the connection to NATS at ${[this.options.servers ?? 'nats://127.0.0.1:4222'].flat().join(', ')} is down; reconnecting`);
  }

  async publish(batch: WireMessage[]): Promise<void> {
    if (this.closed) throw new ClosedError('the nats driver is closed', { topic: batch[0]?.topic });
    const link = await this.link.get(batch[0]?.topic);
    if (this.mode === 'core') {
      if (!this.connected) throw this.fail(new Error('disconnected'), batch[0]?.topic ?? '');
      return publishCore(link, batch);
    }
    return publishJetStream(link, batch);
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    if (this.closed) throw new ClosedError('the nats driver is closed', { topic: spec.pattern });
    const link = await this.link.get(spec.pattern);
    let inner: DriverSubscription;
    try {
      inner = this.mode === 'core' ? subscribeCore(link, this.groups, spec, deliver) : await subscribeJetStream(link, spec, deliver);
    } catch (error) {
      throw error instanceof OmnibusError ? error : this.fail(error, spec.pattern);
    }
    return this.track(inner);
  }

  /** Closed with the driver, unless closed before. */
  private track(inner: DriverSubscription): DriverSubscription {
    const subscription = {
      close: async () => {
        this.subscriptions.delete(subscription);
        await inner.close();
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** JetStream mode only; see `readJetStream` for the snapshot and the order across streams. */
  async *read(spec: ReadSpec): AsyncGenerator<WireMessage> {
    if (this.closed) throw new ClosedError('the nats driver is closed', { topic: spec.pattern });
    if (this.mode === 'core') {
      throw new ConfigurationError("nats core mode keeps no history to read; use mode: 'jetstream', or subscribe", { topic: spec.pattern });
    }
    const link = await this.link.get(spec.pattern);
    try {
      yield* readJetStream(link, spec);
    } catch (error) {
      throw error instanceof OmnibusError ? error : this.fail(error, spec.pattern);
    }
  }

  private async jetStreamLag(spec: LagSpec): Promise<number> {
    if (this.closed) throw new ClosedError('the nats driver is closed', { topic: spec.pattern });
    const link = await this.link.get(spec.pattern);
    try {
      return await jetStreamLag(link, spec);
    } catch (error) {
      throw error instanceof OmnibusError ? error : this.fail(error, spec.pattern);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const linking = this.link.current;
    if (linking === undefined) return;
    const link = await linking.catch(() => undefined);
    if (link === undefined) return;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await link.delayed?.close();
    // Acks of handlers that just finished are confirmed (or time out) before the connection goes.
    await link.acks?.close();
    if (this.options.connection !== undefined) return;
    // Naks and the like are sent blind: they must reach the server first.
    await link.nc.flush().catch(() => undefined);
    await link.nc.close().catch(() => undefined);
  }

  private async connect(topic: string | undefined): Promise<Link> {
    const transport = await loadPeer<Transport>('nats', '@nats-io/transport-node', () => import('@nats-io/transport-node'));
    const servers = this.options.servers ?? 'nats://127.0.0.1:4222';
    let nc = this.options.connection;
    if (nc === undefined) {
      try {
        nc = await transport.connect({
          servers,
          name: 'omnibus',
          timeout: this.options.connectTimeoutMs ?? 5_000,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          // Async traces build two Error objects (stack and all) per request and JetStream
          // publish, measured at 40% of a publish's CPU; the driver's own errors name the
          // topic and the operation instead.
          noAsyncTraces: true,
          ...this.options.connectOptions,
        });
      } catch (cause) {
        const at = [servers].flat().join(', ');
        if ((cause as Error)?.name === 'AuthorizationError') {
          throw failure('refused', `NATS at ${at} refused us: ${(cause as Error).message}; check the credentials in connectOptions or the url`, { topic, cause });
        }
        throw failure(
          'connection',
          `cannot connect to NATS at ${at}: ${(cause as Error)?.message ?? cause}; check that nats-server runs there (with -js for JetStream mode)`,
          { topic, cause },
        );
      }
    }
    if (this.closed) {
      if (this.options.connection === undefined) await nc.close();
      throw new ClosedError('the nats driver is closed', { topic });
    }
    this.watch(nc, () => link.acks);
    const link = {
      nc,
      makeHeaders: () => transport.headers(),
      subject: (name: string) => (this.subjectPrefix === '' ? name : `${this.subjectPrefix}.${name}`),
      topic: (subject: string) => (this.subjectPrefix === '' ? subject : subject.slice(this.subjectPrefix.length + 1)),
      fail: (error: unknown, name: string) => this.fail(error, name),
      report: (error: unknown) => this.emit({ type: 'error', driver: this.name, error }),
      isConnected: () => this.connected,
      settings: {
        publishTimeoutMs: this.options.publishTimeoutMs ?? 5_000,
        pullBatch: this.options.pullBatch ?? 256,
        pullExpiresMs: Math.max(1_000, this.options.pullExpiresMs ?? 5_000),
        maxAckPending: this.options.maxAckPending ?? 1_000,
        ephemeralInactiveMs: this.options.ephemeralInactiveMs ?? 60_000,
      },
    } as Link;
    if (this.mode === 'jetstream') {
      const jetstream = await loadPeer<JetStreamModule>('nats', '@nats-io/jetstream', () => import('@nats-io/jetstream'));
      try {
        link.jsm = await jetstream.jetstreamManager(nc, { timeout: link.settings.publishTimeoutMs });
      } catch (cause) {
        if (this.options.connection === undefined) await nc.close().catch(() => undefined);
        throw new ConnectionError(
          `NATS at ${[servers].flat().join(', ')} has no JetStream: ${(cause as Error)?.message ?? cause}; ` +
            "start nats-server with -js, or use mode: 'core'",
          { topic, cause },
        );
      }
      link.js = link.jsm.jetstream();
      link.acks = new ConfirmedAcks(nc, inboxFor(nc), this.options.ackTimeoutMs ?? 5_000, link.fail);
      link.streams = new StreamCatalog(link.jsm, {
        subjectPrefix: this.subjectPrefix,
        streamPrefix: this.options.streamPrefix ?? 'OMNIBUS',
        streamTokens: Math.max(1, this.options.streamTokens ?? 1),
        dedupeWindowMs: this.options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
        stream: this.options.stream ?? {},
      });
      // Every driver moves delayed messages, so one published by a process that has gone
      // is still delivered while any process on the same streamPrefix runs.
      link.delayed = new DelayedMessages(link, this.options.streamPrefix ?? 'OMNIBUS');
      link.delayed.start().catch((error: unknown) => link.report(error));
    }
    return link;
  }

  /** Turns connection status into bus events, and tells the acks (JetStream mode) of each drop and return. */
  private watch(nc: NatsConnection, acks: () => ConfirmedAcks | undefined): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') acks()?.disconnected();
        if (status.type === 'disconnect' && this.connected) {
          this.connected = false;
          this.emit({ type: 'connectionLost', driver: this.name });
        } else if (status.type === 'reconnect') {
          acks()?.reconnected();
          this.connected = true;
          this.emit({ type: 'reconnected', driver: this.name });
        } else if (status.type === 'error') {
          this.emit({ type: 'error', driver: this.name, error: status.error });
        }
      }
    })();
  }

  private emit(event: DriverEvent): void {
    this.observers.emit(event);
  }

  private fail(error: unknown, topic: string): Error {
    if (error instanceof OmnibusError) return error;
    const name = (error as Error)?.name;
    const message = (error as Error)?.message ?? String(error);
    if (this.closed || name === 'ClosedConnectionError' || name === 'DrainingConnectionError') {
      return new ClosedError(`the nats driver is closed: ${message}`, { topic, cause: error });
    }
    if (!this.connected || TRANSIENT.has(name)) {
      return new ConnectionError(
        `NATS did not answer for '${topic}' (${message}); the server may be down or restarting. ` +
          'Publishing again with the same id is safe: JetStream stores it once',
        { topic, cause: error },
      );
    }
    return failure('refused', `NATS refused '${topic}': ${message}`, { topic, cause: error });
  }
}

/** The NATS driver; see {@link NatsOptions} for the defaults. */
export const nats = defineDriver((options: NatsOptions = {}): Driver => new NatsDriver(options));
