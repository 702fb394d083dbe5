// The Kafka driver: topics are Kafka topics, created on first use; the key is the record
// key, so one key keeps its order; groups are Kafka consumer groups whose committed offsets
// move only past what handlers acknowledged. Built on @platformatic/kafka.

import type { Admin, BaseOptions, Producer } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';
import { ClosedError, ConfigurationError, ConnectionError, InvalidTopicError, OmnibusError } from '../../core/errors.js';
import { defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type LagSpec, type ReadSpec, type SubscribeSpec, type WireMessage } from '../../core/driver.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { LinkState } from '../../driver-kit/link-state.js';
import { Observers } from '../../driver-kit/observers.js';
import { loadPeer } from '../../driver-kit/peer.js';
import { assignBySubscription } from './assigner.js';
import { checkKafkaName, Cluster, type KafkaModule } from './cluster.js';
import { Mover, toDelayed } from './delays.js';
import { kafkaFailure } from './errors.js';
import { readHistory } from './history.js';
import { kafkaLag } from './lag.js';
import { Publisher } from './publisher.js';
import { KafkaSubscription, type ConsumerSettings } from './subscription.js';

export interface KafkaOptions {
  /** Bootstrap brokers, `host:port`. Default `'127.0.0.1:9092'`. */
  brokers?: string | string[];
  /** The client id the broker sees (consumers add `-consumer`). Default `'omnibus'`. */
  clientId?: string;
  /**
   * A @platformatic/kafka `Producer` the application already built (with the default Buffer
   * serialisers); the driver publishes through it and never closes it. Default: the driver
   * builds one from these options.
   */
  producer?: Producer;
  /** Passed to every client the driver builds: `sasl`, `tls`, `connectTimeout`, `retries`, ... Default none. */
  additionalConfig?: Record<string, unknown>;
  /** Create a topic on first publish or subscribe. When false, publishing to a missing topic is a RefusedError and a subscription waits for it. Default true. */
  autoCreateTopics?: boolean;
  /** Partitions of a created topic: group members share a topic by partitions. Default 3. */
  partitions?: number;
  /** Replication factor of a created topic; -1 takes the broker's `default.replication.factor`. Default -1. */
  replicationFactor?: number;
  /** Topic configuration of created topics (`retention.ms`, `cleanup.policy`, ...). Default none. */
  topicConfig?: Record<string, string>;
  /**
   * The idempotent producer: the broker stores a produce request the client retries by itself
   * once, and keeps each partition's records in the order sent. A publish the caller retries
   * after an error is a new request and may be stored twice. Needs `acks: 'all'`. Default true.
   */
  idempotent?: boolean;
  /** `'all'`: every in-sync replica stored it; `'leader'`: the leader did. Default `'all'`. */
  acks?: 'all' | 'leader';
  /** Compression of produced batches. Default `'none'`. */
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** How long a publish waits for others to share its produce request (Kafka's `linger.ms`). Default 0: those of one event-loop turn. */
  lingerMs?: number;
  /** The most bytes of records in one produce request; must fit the broker's `message.max.bytes`. Default 1,000,000. */
  batchSize?: number;
  /** How long one fetch waits on the broker for new records (the subscriber's long poll). Default 500 ms. */
  fetchMaxWaitMs?: number;
  /** How often a wildcard subscription lists the topics again to find new ones. Default 2,000 ms. */
  topicRefreshMs?: number;
  /** A group member that sends no heartbeat for this long is out of the group. Default 10,000 ms. */
  sessionTimeoutMs?: number;
  /** How often group members heartbeat, and so how soon they see a rebalance. Default 500 ms. */
  heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to rejoin. Default 10,000 ms. */
  rebalanceTimeoutMs?: number;
  /**
   * Records handed to a subscriber ahead of its acks, at most (Kafka's `max.poll.records`).
   * Before a group member gives up partitions in a rebalance it waits for these to settle (at
   * most the ack deadline, half the rebalance timeout and the session timeout less two
   * heartbeats): lower it for slow handlers. Default 256.
   */
  prefetch?: number;
  /** The largest payload. Default the broker's `message.max.bytes` (read on connect; 1,048,588 before that) less 8 KiB for headers. */
  maxPayloadBytes?: number;
  /**
   * The topic delayed messages wait in until due (created like any other), and with `-mover`
   * appended the consumer group that moves them to their topics: processes that share it share
   * the moving, each record moved by one of them. Wildcard subscriptions never see it. Default
   * `'omnibus.delayed'`.
   */
  delayTopic?: string;
}

const KAFKA_DEFAULT_MAX_MESSAGE = 1_048_588;
const HEADROOM = 8 * 1024;
/**
 * Delayed records one mover holds in memory until due, at most; past that it reads no more of
 * the delay topic until some are moved, so a message behind them may be late.
 */
const MOVER_HOLDS = 10_000;
/** The mover's records stay unsettled until due: no ack deadline (setTimeout's longest wait). */
const MOVER_ACK_DEADLINE_MS = 2 ** 31 - 1;

interface Link {
  cluster: Cluster;
  publisher: Publisher;
  producer: Producer;
}

class KafkaDriver implements Driver {
  readonly name = 'kafka';
  readonly capabilities: Capabilities;
  private readonly clientId: string;
  private readonly brokers: string[];
  private readonly link = new ConnectOnce((topic: string | undefined) => this.connect(topic));
  private readonly observers = new Observers();
  private readonly linkState = new LinkState('kafka', (event) => this.observers.emit(event));
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly settings: ConsumerSettings;
  private readonly delayTopic: string;
  private mover: Promise<Mover> | undefined;
  private closed = false;

  constructor(private readonly options: KafkaOptions) {
    this.brokers = [options.brokers ?? '127.0.0.1:9092'].flat();
    if (this.brokers.length === 0) throw new ConfigurationError('kafka: brokers is empty; give at least one host:port');
    if (options.idempotent !== false && options.acks === 'leader') {
      throw new ConfigurationError("kafka: the idempotent producer needs acks: 'all'; set idempotent: false to use acks: 'leader'");
    }
    this.clientId = options.clientId ?? 'omnibus';
    this.delayTopic = options.delayTopic ?? 'omnibus.delayed';
    checkKafkaName(this.delayTopic);
    this.settings = {
      fetchMaxWaitMs: options.fetchMaxWaitMs ?? 500,
      fetchMaxBytes: 16 * 1024 * 1024,
      partitionMaxBytes: 2 * 1024 * 1024,
      topicRefreshMs: options.topicRefreshMs ?? 2_000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 500,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 10_000,
      prefetch: options.prefetch ?? 256,
    };
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: true,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: true,
      maxPayloadBytes: options.maxPayloadBytes ?? KAFKA_DEFAULT_MAX_MESSAGE - HEADROOM,
      ackDeadline: true,
      delayedDelivery: true,
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  /** Connects, then asks the cluster for its metadata: rejects with ConnectionError while no broker answers. */
  async ready(): Promise<void> {
    if (this.closed) throw new ClosedError('the kafka driver is closed');
    const { cluster } = await this.link.get(undefined);
    try {
      await cluster.admin.metadata({ topics: [], forceUpdate: true });
      this.linkState.back('ready');
    } catch (error) {
      const failed = kafkaFailure(error, `cannot reach the brokers at ${this.brokers.join(', ')}`, undefined);
      if (failed instanceof ConnectionError) this.linkState.lost('ready', failed);
      throw failed;
    }
  }

  async publish(batch: WireMessage[]): Promise<void> {
    if (this.closed) throw new ClosedError('the kafka driver is closed', { topic: batch[0]?.topic });
    const topics = [...new Set(batch.map((message) => message.topic))];
    for (const topic of topics) {
      checkKafkaName(topic);
      if (topic === this.delayTopic) throw new InvalidTopicError(`kafka: topic '${topic}' holds this driver's delayed messages (delayTopic); publish with delayMs or deliverAt instead`, topic, { topic });
    }
    const delayed = batch.some((message) => message.deliverAt !== undefined);
    // The real topics are ensured now, so a missing one is refused at once, not when due.
    if (delayed) topics.push(this.delayTopic);
    const { cluster, publisher } = await this.link.get(batch[0]?.topic);
    await Promise.all(topics.map((topic) => cluster.ensure(topic)));
    if (!delayed) return publisher.publish(batch);
    this.startMover();
    await publisher.publish(batch.map((message) => (message.deliverAt === undefined ? message : toDelayed(message, this.delayTopic))));
  }

  /** Once per driver: joins the delay topic's movers, so delayed messages reach subscribers here even if their publisher stopped. */
  private startMover(): void {
    if (this.mover !== undefined || this.closed) return;
    const moving = (async () => {
      const { cluster, publisher } = await this.link.get(this.delayTopic);
      let subscription: KafkaSubscription | undefined;
      const mover = new Mover({
        publish: async (batch) => {
          await Promise.all([...new Set(batch.map((message) => message.topic))].map((topic) => cluster.ensure(topic)));
          await publisher.publish(batch);
        },
        owns: (held) => subscription?.owns(held) ?? false,
        error: (error) => this.observers.emit({ type: 'error', driver: this.name, error: error instanceof OmnibusError ? error : kafkaFailure(error, 'moving delayed messages failed', this.delayTopic) }),
      });
      const spec = { pattern: this.delayTopic, group: `${this.delayTopic}-mover`, from: 'earliest' as const, ackDeadlineMs: MOVER_ACK_DEADLINE_MS };
      subscription = await this.open(spec, mover.deliver, { ...this.settings, prefetch: MOVER_HOLDS });
      return mover;
    })();
    this.mover = moving;
    moving.catch((error: unknown) => {
      // Tried again by the next subscribe or delayed publish.
      this.mover = undefined;
      this.observers.emit({ type: 'error', driver: this.name, error });
    });
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    if (this.closed) throw new ClosedError('the kafka driver is closed', { topic: spec.pattern });
    checkKafkaName(spec.pattern);
    const subscription = await this.open(spec, deliver, this.settings);
    // Delayed messages published by processes since stopped still come due for this one.
    this.startMover();
    return {
      close: async () => {
        await subscription.close();
        void subscription.finished.finally(() => this.subscriptions.delete(subscription)).catch(() => {});
      },
    };
  }

  /** A subscription of its own consumer, open and counted among the driver's. */
  private async open(spec: SubscribeSpec, deliver: Deliver, settings: ConsumerSettings): Promise<KafkaSubscription> {
    const { cluster } = await this.link.get(spec.pattern);
    const kafka = cluster.kafka;
    const consumer = new kafka.Consumer({
      ...this.clientOptions(),
      clientId: `${this.clientId}-consumer`,
      // Without a group the consumer never joins one: it reads every partition itself.
      groupId: spec.group ?? `omnibus-reader-${randomUUID()}`,
      autocommit: false,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      rebalanceTimeout: this.settings.rebalanceTimeoutMs,
      partitionAssigner: assignBySubscription,
    });
    const pool = new kafka.ConnectionPool(`${this.clientId}-fetch`, this.clientOptions());
    let subscription: KafkaSubscription;
    try {
      subscription = new KafkaSubscription(cluster, consumer, pool, spec, deliver, settings, (event) => this.observers.emit(event), this.linkState);
    } catch (error) {
      await Promise.resolve(consumer.close(true)).catch(() => {});
      await pool.close().catch(() => {});
      throw error;
    }
    try {
      await subscription.open();
      // The driver closed while this subscription was opening: it must not outlive the driver.
      if (this.closed) throw new ClosedError('the kafka driver is closed', { topic: spec.pattern });
    } catch (error) {
      await subscription.close();
      await subscription.finished;
      throw error instanceof OmnibusError ? error : kafkaFailure(error, 'subscribing failed', spec.pattern);
    }
    this.subscriptions.add(subscription);
    return subscription;
  }

  async *read(spec: ReadSpec): AsyncGenerator<WireMessage> {
    if (this.closed) throw new ClosedError('the kafka driver is closed', { topic: spec.pattern });
    checkKafkaName(spec.pattern);
    const { cluster } = await this.link.get(spec.pattern);
    const kafka = cluster.kafka;
    const consumer = new kafka.Consumer({ ...this.clientOptions(), clientId: `${this.clientId}-reader`, groupId: `omnibus-reader-${randomUUID()}`, autocommit: false });
    const pool = new kafka.ConnectionPool(`${this.clientId}-fetch`, this.clientOptions());
    try {
      yield* readHistory(cluster, { kafka, consumer, pool, maxBytes: this.settings.fetchMaxBytes, partitionMaxBytes: this.settings.partitionMaxBytes }, spec);
    } catch (error) {
      throw error instanceof OmnibusError ? error : kafkaFailure(error, 'reading history failed', spec.pattern);
    } finally {
      await Promise.resolve(consumer.close(true)).catch(() => {});
      await pool.close().catch(() => {});
    }
  }

  async lag(spec: LagSpec): Promise<number> {
    if (this.closed) throw new ClosedError('the kafka driver is closed', { topic: spec.pattern });
    checkKafkaName(spec.pattern);
    const { cluster } = await this.link.get(spec.pattern);
    return kafkaLag(cluster, spec);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // First the mover, so no move is under way when the publisher goes.
    await (await this.mover?.catch(() => undefined))?.close();
    const subscriptions = [...this.subscriptions];
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    await Promise.all(subscriptions.map((subscription) => subscription.finished));
    const link = await this.link.current?.catch(() => undefined);
    if (link === undefined) return;
    await link.publisher.idle();
    if (this.options.producer === undefined) await link.producer.close().catch(() => {});
    await link.cluster.admin.close().catch(() => {});
  }

  private clientOptions(): BaseOptions {
    return { clientId: this.clientId, bootstrapBrokers: this.brokers, retries: 3, retryDelay: 250, ...(this.options.additionalConfig as Partial<BaseOptions>) };
  }

  private async connect(topic: string | undefined): Promise<Link> {
    const kafka: KafkaModule = await loadPeer('kafka', '@platformatic/kafka', () => import('@platformatic/kafka'), ' (>=1.30.0)');
    const admin: Admin = new kafka.Admin({ ...this.clientOptions(), clientId: `${this.clientId}-admin` });
    admin.on('error', () => {});
    let messageMax = KAFKA_DEFAULT_MAX_MESSAGE;
    try {
      const metadata = await admin.metadata({ topics: [] });
      messageMax = await brokerMessageMax(admin, metadata.controllerId >= 0 ? metadata.controllerId : [...metadata.brokers.keys()][0]);
    } catch (error) {
      await admin.close().catch(() => {});
      throw kafkaFailure(error, `cannot reach the brokers at ${this.brokers.join(', ')}`, topic);
    }
    if (this.options.maxPayloadBytes === undefined) this.capabilities.maxPayloadBytes = messageMax - HEADROOM;
    const cluster = new Cluster(kafka, admin, {
      autoCreateTopics: this.options.autoCreateTopics ?? true,
      partitions: this.options.partitions ?? 3,
      replicationFactor: this.options.replicationFactor ?? -1,
      topicConfig: this.options.topicConfig ?? {},
      hidden: this.delayTopic,
    });
    const idempotent = this.options.idempotent ?? true;
    const producer =
      this.options.producer ??
      new kafka.Producer({
        ...this.clientOptions(),
        clientId: `${this.clientId}-producer`,
        idempotent,
        acks: this.options.acks === 'leader' ? kafka.ProduceAcks.LEADER : kafka.ProduceAcks.ALL,
        compression: this.options.compression ?? 'none',
        autocreateTopics: false,
      });
    producer.on('error', (error: unknown) => this.observers.emit({ type: 'error', driver: this.name, error }));
    const hash = (key: Buffer) => kafka.compatibilityPartitioner(undefined as never, key);
    const publisher = new Publisher(
      producer,
      { lingerMs: this.options.lingerMs ?? 0, batchSize: Math.min(this.options.batchSize ?? 1_000_000, messageMax - 1024) },
      (name) => cluster.partitionCount(name),
      hash,
      idempotent,
      this.linkState,
    );
    return { cluster, publisher, producer };
  }
}

/** The broker's `message.max.bytes`, or Kafka's default when it cannot be read (ACLs). */
async function brokerMessageMax(admin: Admin, broker: number | undefined): Promise<number> {
  if (broker === undefined) return KAFKA_DEFAULT_MAX_MESSAGE;
  try {
    const [description] = await admin.describeConfigs({ resources: [{ resourceType: 4, resourceName: String(broker), configurationKeys: ['message.max.bytes'] }] });
    const value = Number(description?.configs.find((config) => config.name === 'message.max.bytes')?.value);
    return Number.isFinite(value) && value > 0 ? value : KAFKA_DEFAULT_MAX_MESSAGE;
  } catch {
    return KAFKA_DEFAULT_MAX_MESSAGE;
  }
}

export const kafka = defineDriver((options: KafkaOptions = {}): Driver => new KafkaDriver(options));
