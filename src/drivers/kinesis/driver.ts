// The Kinesis driver: a topic's first tokens name its stream, created on first use; the
// key is the partition key, so one key keeps its order in one shard; subscribers poll
// GetRecords. Kinesis keeps no consumer position, so groups lease shards and checkpoint them
// in a store of the user's choice (SQLite or Postgres). Built on @aws-sdk/client-kinesis.

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ClosedError, ConfigurationError, OmnibusError } from '../../core/errors.js';
import { defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type SubscribeSpec, type WireMessage } from '../../core/driver.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { GroupTable } from '../../driver-kit/group-table.js';
import { Observers } from '../../driver-kit/observers.js';
import { loadPeer } from '../../driver-kit/peer.js';
import { openCheckpoints, type CheckpointStore } from './checkpoints.js';
import { ENVELOPE_HEADROOM, KINESIS_RECORD_LIMIT } from './envelope.js';
import { kinesisFailure } from './errors.js';
import { FanOut } from './fan-out.js';
import { GroupMember } from './group-member.js';
import { startOf, type Start } from './position.js';
import { putRecords } from './publisher.js';
import { StreamReader, type Received } from './reader.js';
import { shardStarts, type Starts } from './starts.js';
import { streamOf, Streams, type KinesisModule, type StreamNaming } from './streams.js';

export interface KinesisOptions {
  /** The endpoint, e.g. `'http://127.0.0.1:4567'` for kinesalite. Default: AWS's own for `region`. */
  endpoint?: string;
  /** The AWS region. Default `AWS_REGION`, else `'us-east-1'`. */
  region?: string;
  /**
   * Credentials. Default: the AWS SDK's chain (environment, profile, role); with an `endpoint`
   * and no `AWS_ACCESS_KEY_ID` in the environment, a placeholder pair, which kinesalite accepts.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** A `KinesisClient` the application built; the driver uses it and never destroys it. Default: built from these options. */
  client?: KinesisClient;
  /** Put before a topic's first tokens to name its stream. Default `'omnibus-'`. */
  streamPrefix?: string;
  /** How many of a topic's first tokens name its stream: `orders.eu.placed` is stream `omnibus-orders` with 1. Default 1. */
  streamTokens?: number;
  /** Create a missing stream on first use. When false, a missing stream is a RefusedError. Default true. */
  createStreams?: boolean;
  /** Shards of a created stream: a group's members share a stream by shards. Default 4. */
  shards?: number;
  /**
   * Where groups keep checkpoints and leases: `'sqlite:<path>'`, `'postgres://…'`, or a
   * `CheckpointStore`. Default `'sqlite:omnibus-kinesis.db'`, a file in the working directory,
   * opened on a group's first subscribe.
   */
  checkpoints?: string | CheckpointStore;
  /** How long a group member's shard leases last without renewal (renewed every third of it): how soon a dead member's shards move. Default 10,000 ms. */
  leaseMs?: number;
  /** How long a subscriber waits between GetRecords calls on a shard with nothing new: the latency floor. AWS allows 5 reads a second per shard. Default 200 ms. */
  pollMs?: number;
  /** Records per GetRecords call, at most (Kinesis allows 10,000). Default 1,000. */
  batchSize?: number;
  /** The largest payload. Default 1 MiB (Kinesis's record limit) less 16 KiB for the envelope and partition key. */
  maxPayloadBytes?: number;
}

interface Link {
  sdk: KinesisModule;
  client: KinesisClient;
  streams: Streams;
}

interface Closable {
  close(): Promise<void>;
  finished?: Promise<void>;
}

class KinesisDriver implements Driver {
  readonly name = 'kinesis';
  readonly capabilities: Capabilities;
  private readonly naming: StreamNaming;
  private readonly link = new ConnectOnce(() => this.connect());
  private readonly checkpoints = new ConnectOnce(() => openCheckpoints(this.options.checkpoints ?? 'sqlite:omnibus-kinesis.db'));
  private readonly observers = new Observers();
  private readonly subscriptions = new Set<Closable>();
  private readonly members = new GroupTable<Set<GroupMember>>();
  private closed = false;

  constructor(private readonly options: KinesisOptions) {
    this.naming = { prefix: options.streamPrefix ?? 'omnibus-', tokens: options.streamTokens ?? 1 };
    if (!Number.isInteger(this.naming.tokens) || this.naming.tokens < 1) throw new ConfigurationError(`kinesis: streamTokens must be a whole number, 1 or more; got ${options.streamTokens}`);
    if (!/^[A-Za-z0-9_.-]*$/.test(this.naming.prefix)) throw new ConfigurationError(`kinesis: streamPrefix '${this.naming.prefix}' has characters stream names do not allow; use letters, digits, '_', '-' and '.'`);
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: true,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: false,
      maxPayloadBytes: options.maxPayloadBytes ?? KINESIS_RECORD_LIMIT - ENVELOPE_HEADROOM,
      ackDeadline: true,
      delayedDelivery: false,
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  /** Asks Kinesis for one stream name: rejects with ConnectionError while the endpoint does not answer. */
  async ready(): Promise<void> {
    this.open(undefined);
    const { sdk, client } = await this.link.get();
    try {
      await client.send(new sdk.ListStreamsCommand({ Limit: 1 }));
    } catch (error) {
      throw kinesisFailure(error, 'cannot reach Kinesis', undefined);
    }
  }

  async publish(batch: WireMessage[]): Promise<void> {
    this.open(batch[0]?.topic);
    const byStream = new Map<string, WireMessage[]>();
    for (const message of batch) {
      const stream = streamOf(message.topic, this.naming);
      byStream.set(stream, [...(byStream.get(stream) ?? []), message]);
    }
    const { sdk, client, streams } = await this.link.get();
    await Promise.all(
      [...byStream].map(async ([stream, messages]) => {
        await streams.ensure(stream, messages[0].topic);
        await putRecords(sdk, client, stream, messages);
      }),
    );
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    this.open(spec.pattern);
    const stream = streamOf(spec.pattern, this.naming);
    const start = startOf(spec.from, spec.pattern);
    const { sdk, client, streams } = await this.link.get();
    await streams.ensure(stream, spec.pattern);
    const streamTopic = stream.slice(this.naming.prefix.length);
    const reader = (take: (records: Received[]) => Promise<void>) =>
      new StreamReader(sdk, client, stream, streamTopic, { pollMs: this.options.pollMs ?? 200, batch: this.options.batchSize ?? 1_000 }, take, (error) => this.report(error));
    try {
      if (spec.group === undefined) {
        const fanOut = new FanOut(spec, reader, deliver);
        this.subscriptions.add(fanOut);
        await fanOut.open(await streams.shards(stream, spec.pattern), await shardStarts(sdk, client, stream, start, spec.pattern));
        return { close: () => this.forget(fanOut) };
      }
      return await this.join(spec, spec.group, start, reader, () => streams.shards(stream, spec.pattern), (from) => shardStarts(sdk, client, stream, from, spec.pattern), deliver);
    } catch (error) {
      throw error instanceof OmnibusError ? error : kinesisFailure(error, 'subscribing failed', spec.pattern);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subscriptions = [...this.subscriptions];
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    await Promise.all(subscriptions.map((subscription) => subscription.finished));
    const store = await this.checkpoints.current?.catch(() => undefined);
    if (store !== undefined && typeof this.options.checkpoints !== 'object') await store.close();
    const link = await this.link.current?.catch(() => undefined);
    if (link !== undefined && this.options.client === undefined) link.client.destroy();
  }

  private async join(
    spec: SubscribeSpec,
    group: string,
    start: Start,
    reader: (take: (records: Received[]) => Promise<void>) => StreamReader,
    shards: () => Promise<string[]>,
    starts: (from: Start) => Promise<Starts>,
    deliver: Deliver,
  ): Promise<DriverSubscription> {
    const store = await this.checkpoints.get();
    const siblings = this.members.get(group, spec.pattern) ?? new Set<GroupMember>();
    this.members.set(group, spec.pattern, siblings);
    const member: GroupMember = new GroupMember(
      {
        store,
        group: `${spec.pattern} ${group}`,
        pattern: spec.pattern,
        reader,
        shards,
        starts,
        changed: () => {
          for (const sibling of siblings) if (sibling !== member) sibling.rebalance();
        },
        report: (error) => this.report(error),
      },
      { leaseMs: this.options.leaseMs ?? 10_000, ackDeadlineMs: spec.ackDeadlineMs },
      deliver,
    );
    siblings.add(member);
    this.subscriptions.add(member);
    try {
      await member.open(start);
    } catch (error) {
      siblings.delete(member);
      await this.forget(member);
      throw error;
    }
    return {
      close: async () => {
        siblings.delete(member);
        await this.forget(member);
      },
    };
  }

  private async forget(subscription: Closable): Promise<void> {
    await subscription.close();
    void Promise.resolve(subscription.finished).finally(() => this.subscriptions.delete(subscription));
  }

  private open(topic: string | undefined): void {
    if (this.closed) throw new ClosedError('the kinesis driver is closed', { topic });
  }

  private report(error: unknown): void {
    this.observers.emit({ type: 'error', driver: this.name, error });
  }

  private async connect(): Promise<Link> {
    const sdk: KinesisModule = await loadPeer('kinesis', '@aws-sdk/client-kinesis', () => import('@aws-sdk/client-kinesis'), ' (>=3.0.0)');
    let client = this.options.client;
    if (client === undefined) {
      // HTTP/1: the SDK would pick HTTP/2 for Kinesis, which kinesalite does not speak and the
      // calls this driver makes do not need.
      const { NodeHttpHandler } = await loadPeer('kinesis', '@smithy/node-http-handler', () => import('@smithy/node-http-handler'), ' (>=3.0.0)');
      const { endpoint, credentials } = this.options;
      client = new sdk.KinesisClient({
        region: this.options.region ?? process.env.AWS_REGION ?? 'us-east-1',
        endpoint,
        credentials: credentials ?? (endpoint !== undefined && process.env.AWS_ACCESS_KEY_ID === undefined ? { accessKeyId: 'omnibus', secretAccessKey: 'omnibus' } : undefined),
        requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000 }),
      });
    }
    return { sdk, client, streams: new Streams(sdk, client, { createStreams: this.options.createStreams ?? true, shards: this.options.shards ?? 4 }) };
  }
}

export const kinesis = defineDriver((options: KinesisOptions = {}): Driver => new KinesisDriver(options));
