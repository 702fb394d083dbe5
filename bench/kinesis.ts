// The Kinesis driver beside raw @aws-sdk/client-kinesis doing the same work in the same run,
// against a kinesalite of its own (or KINESIS_ENDPOINT), 100 B payloads, 4 shards each side:
// publishMany against PutRecords of 500, one group consuming a backlog (and checkpointing it
// in SQLite) against GetRecords over every shard, and publish-to-handler latency against
// PutRecord and a GetRecords poll at the same interval. kinesalite's own speed (one
// process, LevelDB, JSON over HTTP/1) bounds every figure on both sides.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand, PutRecordCommand, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Bus } from '../src/core/bus.js';
import { kinesis } from '../src/drivers/kinesis/index.js';
import { startKinesalite } from '../test/support/kinesis.js';
import { groupConsumeRate, interleaved, percentile, printTable, rate, type Row } from './measure.js';

const RUNS = 5;
const SHARDS = 4;
const BATCH = 500;
const PUBLISHED = 5_000;
const CONSUMED = 20_000;
const SAMPLES = 40;
const POLL_MS = 50;
const BYTES = 100;

const run = randomUUID().slice(0, 8);
const payload = new Uint8Array(BYTES).fill(120);

class Suite {
  readonly client: KinesisClient;
  private readonly dir = mkdtempSync(join(tmpdir(), 'omnibus-bench-kinesis-'));

  constructor(private readonly endpoint: string) {
    this.client = new KinesisClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, requestHandler: new NodeHttpHandler() });
  }

  bus(): Bus {
    return new Bus({ drivers: { kinesis: kinesis({ endpoint: this.endpoint, shards: SHARDS, pollMs: POLL_MS, checkpoints: `sqlite:${join(this.dir, 'checkpoints.db')}` }) } });
  }

  async rawStream(name: string): Promise<string[]> {
    await this.client.send(new CreateStreamCommand({ StreamName: name, ShardCount: SHARDS }));
    await waitUntilStreamExists({ client: this.client, maxWaitTime: 60, minDelay: 0.1, maxDelay: 1 }, { StreamName: name });
    const { Shards } = await this.client.send(new ListShardsCommand({ StreamName: name }));
    return Shards!.map((shard) => shard.ShardId!);
  }

  async publish(): Promise<Record<'omnibus' | 'raw' | 'sized', number>> {
    const bus = this.bus();
    const topic = `pub${run}.x`;
    const raw = `raw-pub-${run}`;
    await this.rawStream(raw);
    const items = Array.from({ length: BATCH }, () => ({ topic, data: payload }));
    // The driver's records carry the envelope (id, topic, time, headers) too: records of the same size.
    const { seq } = await bus.publish(topic, payload);
    const sized = new Uint8Array(await recordSize(this.client, seq!)).fill(120);
    const puts = (data: Uint8Array) => () =>
      rate(PUBLISHED, async () => {
        for (let i = 0; i < PUBLISHED; i += BATCH) {
          await this.client.send(new PutRecordsCommand({ StreamName: raw, Records: items.map(() => ({ Data: data, PartitionKey: randomUUID() })) }));
        }
      });
    try {
      return await interleaved(RUNS, {
        omnibus: () => rate(PUBLISHED, async () => {
          for (let i = 0; i < PUBLISHED; i += BATCH) await bus.publishMany(items);
        }),
        raw: puts(payload),
        sized: puts(sized),
      });
    } finally {
      await bus.close();
    }
  }

  async consume(): Promise<Record<'omnibus' | 'raw' | 'sized', number>> {
    const topic = `con${run}.x`;
    const filler = this.bus();
    for (let i = 0; i < CONSUMED; i += BATCH) await filler.publishMany(Array.from({ length: BATCH }, () => ({ topic, data: payload })));
    const { seq } = await filler.publish(`con${run}.size`, payload);
    const sized = new Uint8Array(await recordSize(this.client, seq!)).fill(120);
    await filler.close();
    const raw = await this.rawBacklog(`raw-con-${run}`, payload);
    const rawSized = await this.rawBacklog(`raw-con-sized-${run}`, sized);
    return interleaved(RUNS, {
      // A fresh group each round reads the whole backlog and checkpoints what its handler settled.
      omnibus: (round) => groupConsumeRate(this.bus(), topic, CONSUMED, `g${round}`),
      raw: () => this.rawRead(raw),
      sized: () => this.rawRead(rawSized),
    });
  }

  /** A stream of CONSUMED records of `data`, and its shards. */
  private async rawBacklog(name: string, data: Uint8Array): Promise<{ name: string; shards: string[] }> {
    const shards = await this.rawStream(name);
    for (let i = 0; i < CONSUMED; i += BATCH) {
      await this.client.send(new PutRecordsCommand({ StreamName: name, Records: Array.from({ length: BATCH }, () => ({ Data: data, PartitionKey: randomUUID() })) }));
    }
    return { name, shards };
  }

  /** Every shard from TRIM_HORIZON until the backlog is read; nothing recorded. */
  private rawRead({ name, shards }: { name: string; shards: string[] }): Promise<number> {
    return rate(CONSUMED, async () => {
      let read = 0;
      await Promise.all(shards.map(async (shard) => {
        let { ShardIterator } = await this.client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }));
        for (;;) {
          const output = await this.client.send(new GetRecordsCommand({ ShardIterator, Limit: 1_000 }));
          read += output.Records!.length;
          ShardIterator = output.NextShardIterator;
          if (output.Records!.length === 0) return;
        }
      }));
      if (read !== CONSUMED) throw new Error(`raw consumer read ${read} of ${CONSUMED}`);
    });
  }

  async latency(): Promise<Record<'omnibus' | 'raw', number[]>> {
    const bus = this.bus();
    const topic = `lat${run}.x`;
    let arrived: () => void = () => {};
    await bus.subscribe(topic, () => arrived());
    const raw = `raw-lat-${run}`;
    const shards = await this.rawStream(raw);
    // The raw side polls every shard at the driver's interval, as a hand-written consumer would.
    const iterators = await Promise.all(shards.map(async (shard) => (await this.client.send(new GetShardIteratorCommand({ StreamName: raw, ShardId: shard, ShardIteratorType: 'LATEST' }))).ShardIterator));
    let rawArrived: () => void = () => {};
    let polling = true;
    const poller = Promise.all(iterators.map(async (start) => {
      let iterator = start;
      while (polling) {
        const output = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }));
        iterator = output.NextShardIterator;
        if (output.Records!.length > 0) rawArrived();
        else await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }));
    const figures = { omnibus: [] as number[], raw: [] as number[] };
    try {
      for (let i = 0; i < SAMPLES; i++) {
        let start = performance.now();
        await new Promise<void>((resolve) => {
          arrived = resolve;
          void bus.publish(topic, payload);
        });
        figures.omnibus.push(performance.now() - start);
        start = performance.now();
        await new Promise<void>((resolve) => {
          rawArrived = resolve;
          void this.client.send(new PutRecordCommand({ StreamName: raw, Data: payload, PartitionKey: randomUUID() }));
        });
        figures.raw.push(performance.now() - start);
      }
    } finally {
      polling = false;
      await poller;
      await bus.close();
    }
    return { omnibus: figures.omnibus.sort((a, b) => a - b), raw: figures.raw.sort((a, b) => a - b) };
  }

  close(): void {
    this.client.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The bytes of the record at `seq` (`<stream>:<shard>:<sequence>`). */
async function recordSize(client: KinesisClient, seq: string): Promise<number> {
  const [stream, shard, sequence] = seq.split(':');
  const { ShardIterator } = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: sequence }));
  const { Records } = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
  return Records![0].Data!.byteLength;
}

export default async function bench(): Promise<void> {
  const own = process.env.KINESIS_ENDPOINT ? undefined : await startKinesalite();
  const endpoint = process.env.KINESIS_ENDPOINT ?? own!.endpoint;
  console.log(`kinesis at ${endpoint}${own === undefined ? '' : ' (a private kinesalite)'}; ${BYTES} B payloads, ${SHARDS} shards, median of ${RUNS} interleaved rounds`);
  const suite = new Suite(endpoint);
  try {
    const publish = await suite.publish();
    const consume = await suite.consume();
    const latency = await suite.latency();
    const rows: Row[] = [
      { scenario: `publishMany, ${BATCH} per call`, omnibus: publish.omnibus, baseline: publish.raw, baselineName: `raw PutRecords, ${BATCH}`, unit: 'msg/s' },
      { scenario: `publishMany, ${BATCH} per call`, omnibus: publish.omnibus, baseline: publish.sized, baselineName: `raw PutRecords, ${BATCH}, records of our size`, unit: 'msg/s' },
      { scenario: 'consume + ack, one group (SQLite checkpoints)', omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'raw GetRecords, no checkpoint', unit: 'msg/s' },
      { scenario: 'consume + ack, one group (SQLite checkpoints)', omnibus: consume.omnibus, baseline: consume.sized, baselineName: 'raw GetRecords, no checkpoint, records of our size', unit: 'msg/s' },
      { scenario: `publish-to-handler latency p50 (poll ${POLL_MS} ms)`, omnibus: percentile(latency.omnibus, 50), baseline: percentile(latency.raw, 50), baselineName: 'raw PutRecord + poll', unit: 'ms' },
      { scenario: `publish-to-handler latency p99 (poll ${POLL_MS} ms)`, omnibus: percentile(latency.omnibus, 99), baseline: percentile(latency.raw, 99), baselineName: 'raw PutRecord + poll', unit: 'ms' },
    ];
    printTable(rows);
  } finally {
    suite.close();
    await own?.dispose();
  }
}
