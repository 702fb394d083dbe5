// The MQTT driver beside raw MQTT.js doing the same work in the same run, both at QoS 1 with
// the same MQTT 5 properties (the driver's user properties and content type) and 100-byte
// payloads: windowed publish, consume + ack of a group's queued backlog (a shared
// subscription's session, drained at Receive Maximum 100), and publish-to-handler latency.
// On a private mosquitto without the default 1,000-message queue limit, so a backlog is kept whole.

import { randomUUID } from 'node:crypto';
import mqttjs, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { Bus } from '../src/core/bus.js';
import { mqtt } from '../src/drivers/mqtt/index.js';
import { startPrivateMosquitto } from '../test/support/mqtt.js';
import { interleaved, percentile, printTable, rate, windowed, type Row } from './measure.js';

const COUNT = 20_000;
/** Publishes in flight at once, for both sides. */
const WINDOW = 500;
const RUNS = 5;
/** Latency samples per round; p99 is read from every measured round's samples together. */
const LATENCY_SAMPLES = 1_000;
const RECEIVE_MAXIMUM = 100;
const payload = new Uint8Array(100).fill(120);
const run = randomUUID().slice(0, 8);

/** What the driver puts on each message, for the raw client to send the same. */
function rawOptions(): IClientPublishOptions {
  return {
    qos: 1,
    properties: {
      contentType: 'application/octet-stream',
      userProperties: { 'omnibus-id': randomUUID(), 'omnibus-time': String(Date.now()) },
    },
  };
}

function connectRaw(url: string, clientId = `raw-${randomUUID()}`, session = false): Promise<MqttClient> {
  return mqttjs.connectAsync(url, {
    protocolVersion: 5,
    clientId,
    clean: !session,
    properties: session ? { sessionExpiryInterval: 300, receiveMaximum: RECEIVE_MAXIMUM } : { receiveMaximum: RECEIVE_MAXIMUM },
  });
}

function newBus(url: string, clientId = `bench-${run}`): Bus {
  return new Bus({ drivers: { mqtt: mqtt({ url, clientId, prefetch: RECEIVE_MAXIMUM, sessionExpirySeconds: 300 }) } });
}

/** Resolves once `client` has had `count` messages (MQTT.js acknowledges each as it arrives). */
function received(client: MqttClient, count: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => client.on('message', () => ++seen === count && resolve()));
}

/** Makes a session for each group on `topic`, then queues COUNT messages for them, which the consume rounds drain. */
async function fillGroups(url: string, publisher: MqttClient, topic: string, round: number): Promise<void> {
  const bus = newBus(url);
  await bus.subscribe(topic, () => {}, { group: `omnibus${round}` });
  await bus.close();
  const raw = await connectRaw(url, `raw-${run}-${round}`, true);
  await raw.subscribeAsync(`$share/raw${round}/${topic.replaceAll('.', '/')}`, { qos: 1 });
  await raw.endAsync();
  await windowed(COUNT, WINDOW, () => publisher.publishAsync(topic.replaceAll('.', '/'), Buffer.from(payload), rawOptions()));
}

async function omnibusConsume(url: string, topic: string, round: number): Promise<number> {
  const bus = newBus(url);
  let handled = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const start = performance.now();
  await bus.subscribe(topic, () => {
    if (++handled === COUNT) done();
  }, { group: `omnibus${round}` });
  await finished;
  const elapsed = performance.now() - start;
  await bus.close();
  return COUNT / (elapsed / 1000);
}

async function rawConsume(url: string, round: number): Promise<number> {
  const start = performance.now();
  const client = mqttjs.connect(url, { protocolVersion: 5, clientId: `raw-${run}-${round}`, clean: false, properties: { sessionExpiryInterval: 300, receiveMaximum: RECEIVE_MAXIMUM } });
  await received(client, COUNT);
  const elapsed = performance.now() - start;
  await client.endAsync();
  return COUNT / (elapsed / 1000);
}

/** A latency round's p50, its samples kept for the p99 unless it is the warm-up. */
function medianOf(pool: number[], round: number, sorted: number[]): number {
  if (round > 0) pool.push(...sorted);
  return percentile(sorted, 50);
}

async function omnibusLatency(url: string): Promise<number[]> {
  const bus = newBus(url);
  const samples: number[] = [];
  let arrived: () => void = () => {};
  let sent = 0;
  await bus.subscribe(`bench${run}.latency.omnibus`, () => {
    samples.push(performance.now() - sent);
    arrived();
  });
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await bus.publish(`bench${run}.latency.omnibus`, payload);
    await handled;
  }
  await bus.close();
  return samples.sort((a, b) => a - b);
}

async function rawLatency(url: string, publisher: MqttClient): Promise<number[]> {
  const topic = `bench${run}/latency/raw`;
  const subscriber = await connectRaw(url);
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const samples: number[] = [];
  let arrived: () => void = () => {};
  let sent = 0;
  subscriber.on('message', () => {
    samples.push(performance.now() - sent);
    arrived();
  });
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const handled = new Promise<void>((resolve) => (arrived = resolve));
    sent = performance.now();
    await publisher.publishAsync(topic, Buffer.from(payload), rawOptions());
    await handled;
  }
  await subscriber.endAsync();
  return samples.sort((a, b) => a - b);
}

export default async function bench(): Promise<void> {
  const server = await startPrivateMosquitto({ config: ['max_queued_messages 0'] });
  const url = server.url;
  const publisher = await connectRaw(url);
  const bus = newBus(url);
  try {
    const publish = await interleaved(RUNS, {
      omnibus: () => rate(COUNT, () => windowed(COUNT, WINDOW, () => bus.publish(`bench${run}.pub.omnibus`, payload))),
      raw: () => rate(COUNT, () => windowed(COUNT, WINDOW, () => publisher.publishAsync(`bench${run}/pub/raw`, Buffer.from(payload), rawOptions()))),
    });
    const work = `bench${run}.work`;
    const consume = await interleaved(RUNS, {
      omnibus: async (round) => {
        await fillGroups(url, publisher, work, round);
        return omnibusConsume(url, work, round);
      },
      raw: (round) => rawConsume(url, round),
    });
    const pooled = { omnibus: [] as number[], raw: [] as number[] };
    const latency = await interleaved(RUNS, {
      omnibus: async (round) => medianOf(pooled.omnibus, round, await omnibusLatency(url)),
      raw: async (round) => medianOf(pooled.raw, round, await rawLatency(url, publisher)),
    });
    const p99 = (samples: number[]) => percentile(samples.sort((a, b) => a - b), 99);
    const rows: Row[] = [
      { scenario: `publish, ${WINDOW} in flight (QoS 1)`, omnibus: publish.omnibus, baseline: publish.raw, baselineName: 'raw publish', unit: 'msg/s' },
      { scenario: 'consume + ack, a group backlog', omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'raw consume', unit: 'msg/s' },
      { scenario: 'publish-to-handler latency p50', omnibus: latency.omnibus, baseline: latency.raw, baselineName: 'raw', unit: 'ms' },
      { scenario: 'publish-to-handler latency p99', omnibus: p99(pooled.omnibus), baseline: p99(pooled.raw), baselineName: 'raw', unit: 'ms' },
    ];
    printTable(rows);
  } finally {
    await bus.close();
    await publisher.endAsync();
    await server.dispose();
  }
}
