// The RabbitMQ driver beside raw amqplib doing the same work in the same run: confirmed
// persistent publishes with the same properties (in batches and as single publishes in
// flight), consume + ack of a group's quorum queue with the same prefetch, and
// publish-to-handler latency, all with 100-byte payloads. Needs RabbitMQ on AMQP_URL;
// deletes its exchange and queues afterwards.

import { randomUUID } from 'node:crypto';
import amqplib, { type ConfirmChannel, type Options } from 'amqplib';
import { Bus } from '../src/core/bus.js';
import { uuidv7 } from '../src/core/uuid.js';
import { amqp } from '../src/drivers/amqp/index.js';
import { interleaved, percentile, printTable, rate, windowed, type Row } from './measure.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const COUNT = 10_000;
const BATCH = 100;
const WINDOW = 500;
/** The driver's default prefetch, and a deep one: core acks after the handler, raw amqplib as a message arrives, so a shallow window runs dry sooner for the bus. */
const PREFETCH = 100;
const DEEP_PREFETCH = 1_000;
const RUNS = 5;
const LATENCY_SAMPLES = 1_000;
const payload = new Uint8Array(100).fill(120);
const rawPayload = Buffer.from(payload);

const run = randomUUID().slice(0, 8);
const exchange = `omnibus-bench-${run}`;
const root = `bench${run}`;

function newBus(prefetch = PREFETCH): Bus {
  return new Bus({ drivers: { amqp: amqp({ url: URL, exchange, prefetch }) } });
}

/** What the driver sends with each message, written by hand: persistent, id, time, content type, headers. */
function rawProperties(): Options.Publish {
  const time = Date.now();
  return {
    persistent: true,
    messageId: uuidv7(),
    timestamp: Math.floor(time / 1000),
    contentType: 'application/octet-stream',
    headers: { 'omnibus-time': time },
  };
}

function rawPublish(channel: ConfirmChannel, topic: string): Promise<void> {
  return new Promise((resolve, reject) => channel.publish(exchange, topic, rawPayload, rawProperties(), (error) => (error ? reject(error) : resolve())));
}

function rawBatches(channel: ConfirmChannel): Promise<number> {
  return rate(COUNT, async () => {
    for (let i = 0; i < COUNT; i += BATCH) await Promise.all(Array.from({ length: BATCH }, () => rawPublish(channel, `${root}.pub.raw`)));
  });
}

function omnibusBatches(bus: Bus): Promise<number> {
  const items = Array.from({ length: BATCH }, () => ({ topic: `${root}.pub.omnibus`, data: payload }));
  return rate(COUNT, async () => {
    for (let i = 0; i < COUNT; i += BATCH) await bus.publishMany(items);
  });
}

/** A group's backlog of COUNT messages on its own quorum queue, declared as the driver declares it, filled by raw publishes. */
async function backlog(channel: ConfirmChannel, queue: string, topic: string): Promise<void> {
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(queue, exchange, topic);
  for (let i = 0; i < COUNT; i += BATCH) await Promise.all(Array.from({ length: BATCH }, () => rawPublish(channel, topic)));
}

async function omnibusConsume(channel: ConfirmChannel, round: number, prefetch: number): Promise<number> {
  const topic = `${root}.work.omnibus${prefetch}-${round}`;
  const group = 'consume';
  await backlog(channel, `${exchange}:${group}:${topic}`, topic);
  const bus = newBus(prefetch);
  // Connected before the clock starts, as the raw consumer is.
  await bus.health();
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const start = performance.now();
  await bus.subscribe(topic, () => {
    if (++handled === COUNT) done();
  }, { group });
  await finished;
  const elapsed = performance.now() - start;
  await bus.close();
  return COUNT / (elapsed / 1000);
}

async function rawConsume(channel: ConfirmChannel, round: number, prefetch: number): Promise<number> {
  const topic = `${root}.work.raw${prefetch}-${round}`;
  const queue = `${exchange}:raw:${topic}`;
  await backlog(channel, queue, topic);
  const connection = await amqplib.connect(URL);
  const consumer = await connection.createChannel();
  await consumer.prefetch(prefetch);
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const start = performance.now();
  await consumer.consume(queue, (message) => {
    consumer.ack(message!);
    if (++handled === COUNT) done();
  });
  await finished;
  const elapsed = performance.now() - start;
  await connection.close();
  return COUNT / (elapsed / 1000);
}

/** Publish-to-handler latency, one message in flight, alternating between the bus (no group) and raw amqplib (an exclusive queue). */
async function latencies(channel: ConfirmChannel): Promise<[number[], number[]]> {
  const bus = newBus();
  const topic = `${root}.latency.omnibus`;
  const rawTopic = `${root}.latency.raw`;
  const ours: number[] = [];
  const theirs: number[] = [];
  let arrived: () => void = () => {};
  let sent = 0;
  await bus.subscribe(topic, () => {
    ours.push(performance.now() - sent);
    arrived();
  });
  const connection = await amqplib.connect(URL);
  const consumer = await connection.createChannel();
  await consumer.prefetch(PREFETCH);
  const { queue } = await consumer.assertQueue('', { exclusive: true, autoDelete: true });
  await consumer.bindQueue(queue, exchange, rawTopic);
  await consumer.consume(queue, (message) => {
    theirs.push(performance.now() - sent);
    consumer.ack(message!);
    arrived();
  });
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    let handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await bus.publish(topic, payload);
    await handled;
    handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await rawPublish(channel, rawTopic);
    await handled;
  }
  await connection.close();
  await bus.close();
  return [ours.sort((a, b) => a - b), theirs.sort((a, b) => a - b)];
}

export default async function bench(): Promise<void> {
  const bus = newBus();
  // The exchange is the driver's to declare: a first publish does.
  await bus.publish(`${root}.warm`, payload);
  const connection = await amqplib.connect(URL);
  const channel = await connection.createConfirmChannel();
  const queues: string[] = [];
  try {
    const batches = await interleaved(RUNS, { omnibus: () => omnibusBatches(bus), raw: () => rawBatches(channel) });
    const singles = await interleaved(RUNS, {
      omnibus: () => rate(COUNT, () => windowed(COUNT, WINDOW, () => bus.publish(`${root}.single.omnibus`, payload))),
      raw: () => rate(COUNT, () => windowed(COUNT, WINDOW, () => rawPublish(channel, `${root}.single.raw`))),
    });
    const consumeAt = (prefetch: number) =>
      interleaved(RUNS, {
        omnibus: (round) => (queues.push(`${exchange}:consume:${root}.work.omnibus${prefetch}-${round}`), omnibusConsume(channel, round, prefetch)),
        raw: (round) => (queues.push(`${exchange}:raw:${root}.work.raw${prefetch}-${round}`), rawConsume(channel, round, prefetch)),
      });
    const consume = await consumeAt(PREFETCH);
    const deep = await consumeAt(DEEP_PREFETCH);
    const [latencyOmnibus, latencyRaw] = await latencies(channel);
    const rows: Row[] = [
      { scenario: `publish, batches of ${BATCH} (publishMany)`, omnibus: batches.omnibus, baseline: batches.raw, baselineName: 'raw confirmed publishes, same properties', unit: 'msg/s' },
      { scenario: `publish, ${WINDOW} single publishes in flight`, omnibus: singles.omnibus, baseline: singles.raw, baselineName: 'raw confirmed publishes, same properties', unit: 'msg/s' },
      { scenario: `consume + ack, one group (quorum, prefetch ${PREFETCH})`, omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'raw consume + ack', unit: 'msg/s' },
      { scenario: `consume + ack, one group (quorum, prefetch ${DEEP_PREFETCH})`, omnibus: deep.omnibus, baseline: deep.raw, baselineName: 'raw consume + ack', unit: 'msg/s' },
      { scenario: 'publish-to-handler latency p50', omnibus: percentile(latencyOmnibus, 50), baseline: percentile(latencyRaw, 50), baselineName: 'raw publish + consume', unit: 'ms' },
      { scenario: 'publish-to-handler latency p99', omnibus: percentile(latencyOmnibus, 99), baseline: percentile(latencyRaw, 99), baselineName: 'raw publish + consume', unit: 'ms' },
    ];
    printTable(rows);
  } finally {
    await bus.close();
    for (const queue of queues) await channel.deleteQueue(queue).catch(() => {});
    await channel.deleteExchange(exchange).catch(() => {});
    await channel.deleteExchange(`${exchange}.delays`).catch(() => {});
    await connection.close();
  }
}
