// The Redis driver beside raw ioredis doing the same work in the same run: pipelined XADD
// of the same fields (and, for scale, of the body alone); awaited single publishes from 100
// tasks beside the plain `XADD key * data <json>` a user would write (and beside XADD of our
// fields); XREADGROUP + XACK for one consumer group; and publish-to-handler latency over a
// blocking read, all with 100-byte payloads.
// Needs redis-server on REDIS_URL; deletes its keys afterwards.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { uuidv7 } from '../src/core/uuid.js';
import { Bus } from '../src/core/bus.js';
import { redis } from '../src/drivers/redis/index.js';
import { groupConsumeRate, interleaved, percentile, printTable, rate, windowed, type Row } from './measure.js';

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Messages per round: enough that a round measures the steady state, not the JIT warming up. */
const COUNT = 50_000;
/** Messages per pipeline (publishMany batch / raw pipeline). */
const BATCH = 100;
/** Concurrent tasks, each awaiting one publish at a time. */
const TASKS = 100;
const RUNS = 3;
const LATENCY_SAMPLES = 2_000;
const payload = new Uint8Array(100).fill(120);
const rawPayload = Buffer.from(payload);
/** A 100-byte JSON object, for the single-publish scenario. */
const order = { id: 'ord-000123', customer: 'cus-4567', total: 129.5, currency: 'EUR', items: 3, status: 'created' };
const orderJson = JSON.stringify(order);

const run = randomUUID().slice(0, 8);
const keyPrefix = `omnibus-bench-${run}:`;
const root = `bench${run}`;

function newBus(): Bus {
  return new Bus({ drivers: { redis: redis({ url: URL, keyPrefix }) } });
}

/**
 * What a hand-written publisher stores for the same message: the fields of the driver's
 * layout (docs/redis.md), or only the body (`bodyOnly`), which carries no id, topic or time.
 */
function rawFields(bodyOnly: boolean): Array<string | Buffer> {
  if (bodyOnly) return ['body', rawPayload];
  return ['id', uuidv7(), 'time', String(Date.now()), 'headers', RAW_HEADERS, 'body', rawPayload];
}
const RAW_HEADERS = JSON.stringify({ 'content-type': 'application/octet-stream' });

function rawBatches(client: Redis, bodyOnly: boolean): Promise<number> {
  const topic = `${root}.pub.raw${bodyOnly ? 'body' : ''}`;
  const key = `${keyPrefix}${topic}`;
  return rate(COUNT, async () => {
    for (let i = 0; i < COUNT; i += BATCH) {
      const pipeline = client.pipeline();
      for (let n = 0; n < BATCH; n++) pipeline.xadd(key, 'MAXLEN', '~', 100_000, '*', ...rawFields(bodyOnly));
      await pipeline.exec();
    }
  });
}

function omnibusBatches(bus: Bus): Promise<number> {
  const topic = `${root}.pub.omnibus`;
  const items = Array.from({ length: BATCH }, () => ({ topic, data: payload }));
  return rate(COUNT, async () => {
    for (let i = 0; i < COUNT; i += BATCH) await bus.publishMany(items);
  });
}

function omnibusSingles(bus: Bus): Promise<number> {
  return rate(COUNT, () => windowed(COUNT, TASKS, () => bus.publish(`${root}.single.omnibus`, order)));
}

/** What a user writes instead: XADD of the JSON alone, no trimming. */
function plainSingles(client: Redis): Promise<number> {
  const key = `${keyPrefix}${root}.single.plain`;
  return rate(COUNT, () => windowed(COUNT, TASKS, () => client.xadd(key, '*', 'data', JSON.stringify(order))));
}

/** XADD of the driver's fields (docs/redis.md: a JSON message has no `headers` field), as the driver trims. */
function layoutSingles(client: Redis): Promise<number> {
  const key = `${keyPrefix}${root}.single.layout`;
  const fields = () => ['id', uuidv7(), 'time', String(Date.now()), 'body', JSON.stringify(order)];
  return rate(COUNT, () => windowed(COUNT, TASKS, () => client.xadd(key, 'MAXLEN', '~', 100_000, '*', ...fields())));
}

function omnibusConsume(round: number): Promise<number> {
  return groupConsumeRate(newBus(), `${root}.work`, COUNT, `omnibus${round}`);
}

async function rawConsume(round: number): Promise<number> {
  const key = `${keyPrefix}${root}.work`;
  const group = `raw${round}`;
  const reader = new Redis(URL);
  const start = performance.now();
  await reader.xgroup('CREATE', key, group, '0');
  let handled = 0;
  while (handled < COUNT) {
    const reply = (await reader.xreadgroupBuffer('GROUP', group, 'c1', 'COUNT', BATCH, 'BLOCK', 1_000, 'STREAMS', key, '>')) as
      | Array<[Buffer, Array<[Buffer, Buffer[]]>]>
      | null;
    if (reply === null) continue;
    const ids = reply[0][1].map(([id]) => id);
    handled += ids.length;
    await reader.xack(key, group, ...ids);
  }
  const elapsed = performance.now() - start;
  reader.disconnect();
  return COUNT / (elapsed / 1000);
}

/**
 * Publish-to-handler latency, one message in flight at a time, alternating between the bus
 * (a subscription without a group) and raw XADD + a blocking XREAD, so both see the same load.
 */
async function latencies(client: Redis): Promise<[number[], number[]]> {
  const bus = newBus();
  const topic = `${root}.latency.omnibus`;
  const rawTopic = `${root}.latency.raw`;
  const key = `${keyPrefix}${rawTopic}`;
  const ours: number[] = [];
  const theirs: number[] = [];
  let arrived: () => void = () => {};
  let sent = 0;
  await bus.subscribe(topic, () => {
    ours.push(performance.now() - sent);
    arrived();
  });
  const reader = new Redis(URL);
  let last = '$';
  let stop = false;
  const reading = (async () => {
    while (!stop) {
      const reply = (await reader.xreadBuffer('COUNT', 100, 'BLOCK', 1_000, 'STREAMS', key, last)) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      if (reply === null) continue;
      for (const [id] of reply[0][1]) {
        last = id.toString();
        theirs.push(performance.now() - sent);
        arrived();
      }
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    let handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await bus.publish(topic, payload);
    await handled;
    handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await client.xadd(key, 'MAXLEN', '~', 100_000, '*', ...rawFields(false));
    await handled;
  }
  stop = true;
  await reading;
  reader.disconnect();
  await bus.close();
  return [ours.sort((a, b) => a - b), theirs.sort((a, b) => a - b)];
}

async function deleteKeys(client: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

export default async function bench(): Promise<void> {
  const client = new Redis(URL);
  const bus = newBus();
  try {
    const batches = await interleaved(RUNS, {
      omnibus: () => omnibusBatches(bus),
      raw: () => rawBatches(client, false),
      bodyOnly: () => rawBatches(client, true),
    });
    const singles = await interleaved(RUNS, { omnibus: () => omnibusSingles(bus), plain: () => plainSingles(client), layout: () => layoutSingles(client) });
    // Both consumers read the same stream, written by the driver in its own layout.
    const items = Array.from({ length: BATCH }, () => ({ topic: `${root}.work`, data: payload }));
    for (let i = 0; i < COUNT; i += BATCH) await bus.publishMany(items);
    const consume = await interleaved(RUNS, { omnibus: omnibusConsume, raw: rawConsume });
    const [latencyOmnibus, latencyRaw] = await latencies(client);
    const rows: Row[] = [
      { scenario: `publish, pipelines of ${BATCH} (publishMany)`, omnibus: batches.omnibus, baseline: batches.raw, baselineName: 'raw pipelined XADD, same fields', unit: 'msg/s' },
      { scenario: `publish, pipelines of ${BATCH} (publishMany)`, omnibus: batches.omnibus, baseline: batches.bodyOnly, baselineName: 'raw pipelined XADD, body only', unit: 'msg/s' },
      { scenario: `awaited single publishes, ${TASKS} tasks, JSON`, omnibus: singles.omnibus, baseline: singles.plain, baselineName: 'plain XADD key * data <json>', unit: 'msg/s' },
      { scenario: `awaited single publishes, ${TASKS} tasks, JSON`, omnibus: singles.omnibus, baseline: singles.layout, baselineName: 'raw XADD, same fields', unit: 'msg/s' },
      { scenario: 'consume + ack, one group', omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'raw XREADGROUP+XACK', unit: 'msg/s' },
      { scenario: 'publish-to-handler latency p50', omnibus: percentile(latencyOmnibus, 50), baseline: percentile(latencyRaw, 50), baselineName: 'raw XADD + XREAD', unit: 'ms' },
      { scenario: 'publish-to-handler latency p99', omnibus: percentile(latencyOmnibus, 99), baseline: percentile(latencyRaw, 99), baselineName: 'raw XADD + XREAD', unit: 'ms' },
    ];
    printTable(rows);
  } finally {
    await bus.close();
    await deleteKeys(client);
    client.disconnect();
  }
}
