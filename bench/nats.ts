// The NATS driver (JetStream mode) beside the raw @nats-io client doing the same work in the
// same run: async publish, consume + ack for one durable consumer, and publish-to-handler
// latency, all with 100-byte payloads on one stream. The driver's acks are confirmed by the
// server, so consume + ack is set beside the raw client both sending acks blind (`ack()`) and
// confirming each (`ackAck()`). The driver connects with `noAsyncTraces`, so publishing is
// also set beside a raw connection with that option; the plain baseline keeps the client's
// defaults, as a user writing it would. Needs nats-server -js on NATS_URL.

import { randomUUID } from 'node:crypto';
import { jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { Bus } from '../src/core/bus.js';
import { nats } from '../src/drivers/nats/index.js';
import { uuidv7 } from '../src/core/uuid.js';
import { groupConsumeRate, interleaved, percentile, printTable, rate, type Row } from './measure.js';

const URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const COUNT = 20_000;
/** Publishes in flight at once, for both sides. */
const WINDOW = 500;
const RUNS = 3;
const LATENCY_SAMPLES = 2_000;
const payload = new Uint8Array(100).fill(120);

const run = randomUUID().slice(0, 8);
const streamPrefix = `OMNIBENCH${run}`;
const root = `bench${run}`;

/** Runs `count` calls of `one`, keeping `WINDOW` in flight. */
async function windowed(count: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await one(next++);
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

/** The headers the driver sends with a bytes payload, written by hand: its id (JetStream's dedupe id), time and content type. */
function layoutHeaders() {
  const h = headers();
  h.set('Nats-Msg-Id', uuidv7());
  h.set('Omnibus-Time', String(Date.now()));
  h.set('content-type', 'application/octet-stream');
  return h;
}

function newBus(): Bus {
  return new Bus({ drivers: { nats: nats({ servers: URL, streamPrefix }) } });
}

/** Fills a subject with COUNT messages for the consume runs, which both sides read. */
async function fill(bus: Bus, topic: string): Promise<void> {
  await windowed(COUNT, () => bus.publish(topic, payload));
}

function omnibusConsume(round: number): Promise<number> {
  return groupConsumeRate(newBus(), `${root}.work`, COUNT, `omnibus${round}`);
}

async function rawConsume(nc: NatsConnection, jsm: JetStreamManager, round: number, confirm: boolean): Promise<number> {
  const stream = `${streamPrefix}_${root}`;
  const durable = `raw${confirm ? 'confirmed' : ''}${round}`;
  const js = jsm.jetstream();
  const start = performance.now();
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: 'explicit', filter_subject: `${root}.work`, deliver_policy: 'all' });
  const consumer = await js.consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: 100 });
  let handled = 0;
  for await (const m of messages) {
    if (confirm) void m.ackAck().catch(() => false);
    else m.ack();
    if (++handled === COUNT) break;
  }
  const elapsed = performance.now() - start;
  await nc.flush();
  return COUNT / (elapsed / 1000);
}

async function omnibusLatency(): Promise<number[]> {
  const bus = newBus();
  const samples: number[] = [];
  let arrived: () => void = () => {};
  let sent = 0;
  await bus.subscribe(`${root}.latency.omnibus`, () => {
    samples.push(performance.now() - sent);
    arrived();
  });
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await bus.publish(`${root}.latency.omnibus`, payload);
    await handled;
  }
  await bus.close();
  return samples.sort((a, b) => a - b);
}

async function rawLatency(jsm: JetStreamManager): Promise<number[]> {
  const stream = `${streamPrefix}_${root}`;
  const js = jsm.jetstream();
  const info = await jsm.consumers.add(stream, { ack_policy: 'explicit', filter_subject: `${root}.latency.raw`, deliver_policy: 'new' });
  const consumer = await js.consumers.get(stream, info.name);
  const samples: number[] = [];
  let arrived: () => void = () => {};
  let sent = 0;
  const messages = await consumer.consume({
    max_messages: 100,
    callback: (m) => {
      samples.push(performance.now() - sent);
      m.ack();
      arrived();
    },
  });
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await js.publish(`${root}.latency.raw`, payload);
    await handled;
  }
  await messages.close();
  return samples.sort((a, b) => a - b);
}

export default async function bench(): Promise<void> {
  const nc = await connect({ servers: URL });
  const jsm = await jetstreamManager(nc);
  const js = jsm.jetstream();
  const untraced = await connect({ servers: URL, noAsyncTraces: true });
  const jsUntraced = (await jetstreamManager(untraced)).jetstream();
  const bus = newBus();
  try {
    // The driver creates the stream; the raw client then works on the same one.
    await bus.publish(`${root}.setup`, payload);
    const publish = await interleaved(RUNS, {
      omnibus: () => rate(COUNT, () => windowed(COUNT, () => bus.publish(`${root}.pub.omnibus`, payload))),
      raw: () => rate(COUNT, () => windowed(COUNT, () => js.publish(`${root}.pub.raw`, payload))),
      layout: () => rate(COUNT, () => windowed(COUNT, () => js.publish(`${root}.pub.layout`, payload, { headers: layoutHeaders() }))),
      untraced: () => rate(COUNT, () => windowed(COUNT, () => jsUntraced.publish(`${root}.pub.untraced`, payload, { headers: layoutHeaders() }))),
    });
    await fill(bus, `${root}.work`);
    const consume = await interleaved(RUNS, {
      omnibus: omnibusConsume,
      raw: (round) => rawConsume(nc, jsm, round, false),
      confirmed: (round) => rawConsume(nc, jsm, round, true),
    });
    const latencyOmnibus = await omnibusLatency();
    const latencyRaw = await rawLatency(jsm);
    const rows: Row[] = [
      { scenario: `publish, ${WINDOW} in flight (JetStream)`, omnibus: publish.omnibus, baseline: publish.raw, baselineName: 'raw js.publish', unit: 'msg/s' },
      { scenario: `publish, ${WINDOW} in flight (JetStream)`, omnibus: publish.omnibus, baseline: publish.layout, baselineName: 'raw js.publish, same headers', unit: 'msg/s' },
      { scenario: `publish, ${WINDOW} in flight (JetStream)`, omnibus: publish.omnibus, baseline: publish.untraced, baselineName: 'raw js.publish, same headers, noAsyncTraces', unit: 'msg/s' },
      { scenario: 'consume + ack, one group (durable pull)', omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'raw consume+ack', unit: 'msg/s' },
      { scenario: 'consume + ack, one group (durable pull)', omnibus: consume.omnibus, baseline: consume.confirmed, baselineName: 'raw consume+ackAck', unit: 'msg/s' },
      { scenario: 'publish-to-handler latency p50', omnibus: percentile(latencyOmnibus, 50), baseline: percentile(latencyRaw, 50), baselineName: 'raw', unit: 'ms' },
      { scenario: 'publish-to-handler latency p99', omnibus: percentile(latencyOmnibus, 99), baseline: percentile(latencyRaw, 99), baselineName: 'raw', unit: 'ms' },
    ];
    printTable(rows);
  } finally {
    await bus.close();
    for await (const name of jsm.streams.names()) if (name.startsWith(streamPrefix)) await jsm.streams.delete(name);
    await Promise.all([nc.close(), untraced.close()]);
  }
}
