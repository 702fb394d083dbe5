// The Kafka driver beside raw @platformatic/kafka doing the same work in the same run, at
// 20 B, 100 B and 10,000 B payloads, every producer idempotent with acks=all unless its row
// says otherwise: publishMany in batches, awaited single publishes from 100 concurrent
// tasks, consume + ack for one group, and publish-to-handler latency. Every topic has 3
// partitions (the driver's default).
// Payloads are JSON strings whose encoding is exactly that many bytes, the bus's default codec,
// and every raw side that stands for an application encodes (and decodes) them as well.
// Brokers come from KAFKA_BROKERS (comma-separated host:port); without it the bench starts a
// private broker (scripts/kafka-broker.ts) and stops it afterwards. Deletes its topics and
// groups at the end.

import { randomUUID } from 'node:crypto';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { Bus } from '../src/core/bus.js';
import { uuidv7 } from '../src/core/uuid.js';
import { KAFKA_HEADER, kafka } from '../src/drivers/kafka/index.js';
import { startPrivateKafka } from '../test/support/kafka.js';
import { interleaved, percentile, printTable, rate, type Row } from './measure.js';

const RUNS = 3;
/** Rounds of consuming: its figures swing with the machine's load more than the others. */
const CONSUME_RUNS = 5;
/** Rounds of publishMany: a round takes two seconds, and its figures swing most between rounds. */
const BATCH_RUNS = 5;
const PARTITIONS = 3;
/** Messages per publishMany call, and per raw send where they fit one request. */
const BATCH = 1_000;
/** Concurrent tasks, each awaiting one publish after another. */
const TASKS = 100;
/** Latency round trips per side that are not counted. */
const WARMUP_SAMPLES = 20;

interface Size {
  bytes: number;
  /** Messages per figure: batched publishing, single publishes (bus / raw), consuming, latency samples. */
  batched: number;
  singles: number;
  rawSingles: number;
  consumed: number;
  samples: number;
  /**
   * Records per publishMany call and per raw send: 1,000 10 KB records would make batches of
   * about 3.3 MB per partition, over the broker's message.max.bytes (1 MB), so both sides
   * send 100 at 10 KB. (A call of 1,000 holds 10 MB encoded while the driver sends it in 1 MB
   * requests, which raw sends of 100 never do: a quarter of its CPU went to collecting that.)
   */
  batch: number;
}

const SIZES: Size[] = [
  { bytes: 20, batched: 200_000, singles: 60_000, rawSingles: 5_000, consumed: 200_000, samples: 2_000, batch: BATCH },
  { bytes: 100, batched: 150_000, singles: 60_000, rawSingles: 5_000, consumed: 200_000, samples: 2_000, batch: BATCH },
  { bytes: 10_000, batched: 12_000, singles: 8_000, rawSingles: 5_000, consumed: 25_000, samples: 2_000, batch: 100 },
];

/** What a Rust Kafka event bus reports as its own send rate, printed for scale only. */
const RUST_REFERENCE = [
  { bytes: 100, rate: 76_000 },
  { bytes: 10_000, rate: 8_200 },
];

const ID_HEADER = Buffer.from(KAFKA_HEADER.id);

/** A JSON string payload whose encoding is `bytes` long (the quotes included). */
const payloadOf = (size: Size) => 'x'.repeat(size.bytes - 2);
/** Its encoding, as the raw side sends it. */
const encodedOf = (size: Size) => Buffer.from(JSON.stringify(payloadOf(size)));

const run = randomUUID().slice(0, 8);
const root = `bench${run}`;
const topicOf = (scenario: string, size: Size, side: 'omnibus' | 'raw') => `${root}.${scenario}.${size.bytes}.${side}`;

/** What the raw idempotent single sends came to, over the measured runs. */
interface RawSingles {
  sent: number;
  /** Sends that failed, and the broker's error codes. */
  failed: number;
  errors: Set<string>;
  /** Sends acknowledged whose records are not in the topic. */
  lost: number;
}

/** The broker's error code in a client error (`OUT_OF_ORDER_SEQUENCE_NUMBER`, ...), else its message. */
function kafkaErrorName(error: unknown): string {
  const { apiId, errors, message } = error as { apiId?: string; errors?: unknown[]; message?: string };
  if (apiId !== undefined) return apiId;
  if (errors !== undefined && errors.length > 0) return kafkaErrorName(errors[0]);
  return message ?? String(error);
}

/**
 * This process's CPU time per message, in microseconds. On a machine shared with other
 * work the wall clock of each side measures its share of the cores as much as its own cost;
 * CPU time per message measures the cost alone.
 */
const cpuPerMessage = (since: NodeJS.CpuUsage, count: number) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / count;
};

/** The median of what rounds after the warm-up recorded. */
const medianAfterWarmUp = (figures: number[]) => percentile(figures.slice(1).sort((a, b) => a - b), 50);

/** Runs `work` (a figure for `count` messages), recording its CPU per message in `costs`. */
async function costing(costs: number[], count: number, work: () => Promise<number>): Promise<number> {
  const since = process.cpuUsage();
  const figure = await work();
  costs.push(cpuPerMessage(since, count));
  return figure;
}

/** Messages per second from the first `handled()` to the `count`th, and the CPU per message in between into `costs`. */
function firstToLast(count: number, costs: number[]): { handled: () => void; rate: Promise<number> } {
  let seen = 0;
  let first = 0;
  let cpu = process.cpuUsage();
  let done: (rate: number) => void = () => {};
  const rate = new Promise<number>((resolve) => (done = resolve));
  const handled = () => {
    if (seen === 0) {
      first = performance.now();
      cpu = process.cpuUsage();
    }
    // The first message starts the clock: count - 1 intervals follow it.
    if (++seen === count) {
      costs.push(cpuPerMessage(cpu, count - 1));
      done((count - 1) / ((performance.now() - first) / 1000));
    }
  };
  return { handled, rate };
}

/** Rates beside the CPU per message of the same rounds. */
type Costed<K extends string> = Record<K, number> & { cpu: Record<K, number> };

/** Runs `count` calls of `one` from TASKS tasks, each awaiting its call before the next. */
async function concurrently(count: number, one: () => Promise<unknown>): Promise<void> {
  let next = 0;
  const task = async () => {
    while (next++ < count) await one();
  };
  await Promise.all(Array.from({ length: TASKS }, task));
}

class Suite {
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly bus: Bus;

  constructor(private readonly brokers: string[]) {
    const base = { clientId: `${root}-raw`, bootstrapBrokers: brokers };
    this.producer = new Producer({ ...base, idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: false });
    this.admin = new Admin(base);
    this.bus = this.newBus();
  }

  newBus(): Bus {
    return new Bus({ drivers: { kafka: kafka({ brokers: this.brokers, clientId: `${root}-omnibus` }) } });
  }

  /** The raw side's topics, made as the driver makes its own: 3 partitions, each with a leader. */
  async createRawTopics(): Promise<void> {
    const topics = SIZES.flatMap((size) => ['batch', 'single', 'plain', 'latency'].map((scenario) => topicOf(scenario, size, 'raw')));
    await this.admin.createTopics({ topics, partitions: PARTITIONS, replicas: -1 });
    for (;;) {
      const metadata = await this.admin.metadata({ topics, forceUpdate: true });
      const ready = topics.every((topic) => metadata.topics.get(topic)?.partitions.every((partition) => partition.leader >= 0));
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * publishMany beside raw sends of bare values, each payload encoded (as publishing data
   * takes: a send of one encoded buffer over and over did less than the plainest producer
   * does), and of records in the driver's
   * layout (a JSON payload has one header, its id: docs/kafka.md), built as a careful
   * hand-written producer would: the header name encoded once, each payload encoded and a
   * fresh id made per record.
   */
  async publishBatches(size: Size): Promise<Costed<'omnibus' | 'headers'> & { raw: number }> {
    const omnibusTopic = topicOf('batch', size, 'omnibus');
    const rawTopic = topicOf('batch', size, 'raw');
    const data = payloadOf(size);
    const items = Array.from({ length: size.batch }, () => ({ topic: omnibusTopic, data }));
    const bare = () => Array.from({ length: size.batch }, () => ({ topic: rawTopic, value: Buffer.from(JSON.stringify(data)) }));
    const withHeaders = () =>
      Array.from({ length: size.batch }, () => ({
        topic: rawTopic,
        value: Buffer.from(JSON.stringify(data)),
        timestamp: BigInt(Date.now()),
        headers: new Map([[ID_HEADER, Buffer.from(uuidv7())]]),
      }));
    const sends = (next: () => Array<{ topic: string; value: Buffer }>) => () =>
      rate(size.batched, async () => {
        for (let i = 0; i < size.batched; i += size.batch) await this.producer.send({ messages: next() });
      });
    const costs = { omnibus: [] as number[], headers: [] as number[] };
    const figures = await interleaved(BATCH_RUNS, {
      omnibus: () =>
        costing(costs.omnibus, size.batched, () =>
          rate(size.batched, async () => {
            for (let i = 0; i < size.batched; i += size.batch) await this.bus.publishMany(items);
          }),
        ),
      raw: sends(bare),
      headers: () => costing(costs.headers, size.batched, sends(withHeaders)),
    });
    return { ...figures, cpu: { omnibus: medianAfterWarmUp(costs.omnibus), headers: medianAfterWarmUp(costs.headers) } };
  }

  /**
   * Awaited single publishes from TASKS tasks; the driver folds those of one turn into one
   * produce request. Concurrent sends on one idempotent @platformatic/kafka producer reuse
   * sequence numbers (platformatic/kafka#326): the broker drops some as duplicates while
   * acknowledging them, and may reject others (OUT_OF_ORDER_SEQUENCE_NUMBER). So the raw
   * figure counts acknowledged sends, what failed or went missing is recorded, and each run
   * gets a fresh producer, so one run's broken sequence state does not carry over. The same
   * sends with idempotence off show what 100 requests in flight cost a client that is safe.
   */
  async publishSingles(size: Size): Promise<{ figures: Record<'omnibus' | 'raw' | 'plain', number>; omnibusLost: number; raw: RawSingles }> {
    const omnibusTopic = topicOf('single', size, 'omnibus');
    const payload = payloadOf(size);
    const raw: RawSingles = { sent: 0, failed: 0, lost: 0, errors: new Set() };
    const figures = await interleaved(RUNS, {
      omnibus: () => rate(size.singles, () => concurrently(size.singles, () => this.bus.publish(omnibusTopic, payload))),
      raw: (round) => this.rawSingles(size, true, round > 0 ? raw : undefined),
      plain: () => this.rawSingles(size, false, undefined),
    });
    const omnibusLost = size.singles * (RUNS + 1) - (await this.stored(omnibusTopic));
    return { figures, omnibusLost, raw };
  }

  private async rawSingles(size: Size, idempotent: boolean, tally: RawSingles | undefined): Promise<number> {
    const topic = topicOf(idempotent ? 'single' : 'plain', size, 'raw');
    const messages = [{ topic, value: encodedOf(size) }];
    const producer = new Producer({ clientId: `${root}-raw`, bootstrapBrokers: this.brokers, idempotent, acks: ProduceAcks.ALL, autocreateTopics: false });
    await producer.send({ messages }); // connects and, if idempotent, gets a producer id
    const before = await this.stored(topic);
    let failed = 0;
    const errors = new Set<string>();
    const figure = await rate(size.rawSingles, () =>
      concurrently(size.rawSingles, () =>
        producer.send({ messages }).catch((error) => {
          failed++;
          errors.add(kafkaErrorName(error));
        }),
      ),
    );
    const stored = (await this.stored(topic)) - before;
    await producer.close();
    if (tally !== undefined) {
      tally.sent += size.rawSingles;
      tally.failed += failed;
      tally.lost += size.rawSingles - failed - stored;
      for (const error of errors) tally.errors.add(error);
    }
    return (figure * (size.rawSingles - failed)) / size.rawSingles;
  }

  /** Records stored in `topic`: the sum of its partitions' end offsets. */
  async stored(topic: string): Promise<number> {
    const [listed] = await this.admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }],
    });
    return listed.partitions.reduce((sum, partition) => sum + Number(partition.offset), 0);
  }

  /**
   * One group reading a backlog, each side timed from its first message to its last: the
   * group's join (the broker's rebalance delay, the same for both) is left out, as it made
   * up a second of a run of two to four and most of its swing.
   */
  async consume(size: Size): Promise<Costed<'omnibus' | 'raw'>> {
    // Both sides read the same records, written by the driver in its own layout.
    const topic = `${root}.work.${size.bytes}`;
    const items = Array.from({ length: BATCH }, () => ({ topic, data: payloadOf(size) }));
    for (let i = 0; i < size.consumed; i += BATCH) await this.bus.publishMany(items);
    const costs = { omnibus: [] as number[], raw: [] as number[] };
    const figures = await interleaved(CONSUME_RUNS, {
      omnibus: (round) => this.busConsume(topic, size.consumed, `${root}.omnibus.${size.bytes}.${round}`, costs.omnibus),
      raw: (round) => this.rawConsume(topic, size.consumed, `${root}.raw.${size.bytes}.${round}`, costs.raw),
    });
    return { ...figures, cpu: { omnibus: medianAfterWarmUp(costs.omnibus), raw: medianAfterWarmUp(costs.raw) } };
  }

  private async busConsume(topic: string, count: number, group: string, costs: number[]): Promise<number> {
    const bus = this.newBus();
    const clock = firstToLast(count, costs);
    await bus.subscribe(topic, clock.handled, { group, from: 'earliest' });
    const rate = await clock.rate;
    await bus.close();
    return rate;
  }

  private async rawConsume(topic: string, count: number, groupId: string, costs: number[]): Promise<number> {
    const consumer = new Consumer({ clientId: `${root}-raw-consumer`, bootstrapBrokers: this.brokers, groupId, autocommit: true });
    const clock = firstToLast(count, costs);
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    // The handler's payload decoded, as the bus hands it over.
    stream.on('data', (message: { value: Buffer }) => {
      JSON.parse(message.value.toString());
      clock.handled();
    });
    const rate = await clock.rate;
    await stream.close();
    await consumer.close();
    return rate;
  }

  /**
   * Publish-to-handler latency, one message in flight at a time, alternating between the bus
   * (a subscription without a group) and a raw send read by a raw consumer stream, so both
   * see the same load. The raw stream reads its fresh, empty topic from the start, so it
   * misses nothing however long its group join takes.
   */
  async latencies(size: Size): Promise<Record<'omnibus' | 'raw', number[]>> {
    const omnibusTopic = topicOf('latency', size, 'omnibus');
    const rawTopic = topicOf('latency', size, 'raw');
    const payload = payloadOf(size);
    const messages = [{ topic: rawTopic, value: encodedOf(size) }];
    const samples = { omnibus: [] as number[], raw: [] as number[] };
    let arrived: () => void = () => {};
    let sent = 0;
    const bus = this.newBus();
    await bus.subscribe(omnibusTopic, () => {
      samples.omnibus.push(performance.now() - sent);
      arrived();
    });
    const consumer = new Consumer({ clientId: `${root}-raw-consumer`, bootstrapBrokers: this.brokers, groupId: `${root}.latency.${size.bytes}`, autocommit: false });
    const stream = await consumer.consume({ topics: [rawTopic], mode: 'earliest' });
    stream.on('data', () => {
      samples.raw.push(performance.now() - sent);
      arrived();
    });
    for (let i = 0; i < WARMUP_SAMPLES + size.samples; i++) {
      let handled = new Promise<void>((resolve) => (arrived = resolve));
      sent = performance.now();
      await bus.publish(omnibusTopic, payload);
      await handled;
      handled = new Promise<void>((resolve) => (arrived = resolve));
      sent = performance.now();
      await this.producer.send({ messages });
      await handled;
    }
    await stream.close();
    await consumer.close();
    await bus.close();
    // The first round trips warm up connections and code paths on both sides.
    const measured = (all: number[]) => all.slice(WARMUP_SAMPLES).sort((a, b) => a - b);
    return { omnibus: measured(samples.omnibus), raw: measured(samples.raw) };
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.producer.close();
    const topics = (await this.admin.listTopics()).filter((topic) => topic.startsWith(root));
    if (topics.length > 0) await this.admin.deleteTopics({ topics });
    const groups = [...(await this.admin.listGroups()).keys()].filter((group) => group.startsWith(root));
    if (groups.length > 0) await this.admin.deleteGroups({ groups });
    await this.admin.close();
  }
}

function brokersFromEnv(): string[] | undefined {
  return process.env.KAFKA_BROKERS?.split(',').map((address) => address.trim()).filter(Boolean);
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

export default async function bench(): Promise<void> {
  const shared = brokersFromEnv();
  const own = shared === undefined ? await startPrivateKafka() : undefined;
  const brokers = shared ?? own!.brokers;
  console.log(`brokers ${brokers.join(',')}${own === undefined ? '' : ' (a private broker)'}`);
  const suite = new Suite(brokers);
  try {
    await suite.createRawTopics();
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const size of SIZES) {
      const label = `${thousands(size.bytes)} B`;
      const batches = await suite.publishBatches(size);
      const singles = await suite.publishSingles(size);
      const consume = await suite.consume(size);
      const latency = await suite.latencies(size);
      rows.push(
        { scenario: `${label} publishMany, ${size.batch} per call`, omnibus: batches.omnibus, baseline: batches.raw, baselineName: `raw, ${size.batch} per send, bare values`, unit: 'msg/s' },
        { scenario: `${label} publishMany, ${size.batch} per call`, omnibus: batches.omnibus, baseline: batches.headers, baselineName: `raw, ${size.batch} per send, same records`, unit: 'msg/s' },
        { scenario: `${label} publishMany, CPU per message`, omnibus: batches.cpu.omnibus, baseline: batches.cpu.headers, baselineName: 'raw, same records', unit: 'us' },
        { scenario: `${label} ${TASKS} tasks, awaited publish`, omnibus: singles.figures.omnibus, baseline: singles.figures.raw, baselineName: 'raw, 1 per send', unit: 'msg/s' },
        { scenario: `${label} ${TASKS} tasks, awaited publish`, omnibus: singles.figures.omnibus, baseline: singles.figures.plain, baselineName: 'raw, 1 per send, idempotence off', unit: 'msg/s' },
        { scenario: `${label} consume + ack, one group`, omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'raw consumer, autocommit, JSON.parse', unit: 'msg/s' },
        { scenario: `${label} consume + ack, CPU per message`, omnibus: consume.cpu.omnibus, baseline: consume.cpu.raw, baselineName: 'raw consumer', unit: 'us' },
        { scenario: `${label} publish-to-handler latency p50`, omnibus: percentile(latency.omnibus, 50), baseline: percentile(latency.raw, 50), baselineName: 'raw send + stream', unit: 'ms' },
        { scenario: `${label} publish-to-handler latency p99`, omnibus: percentile(latency.omnibus, 99), baseline: percentile(latency.raw, 99), baselineName: 'raw send + stream', unit: 'ms' },
      );
      const { raw } = singles;
      if (raw.failed > 0 || raw.lost !== 0) {
        const errors = raw.failed > 0 ? ` (${[...raw.errors].join(', ')})` : '';
        notes.push(`${label}: raw idempotent single sends: ${thousands(raw.failed)} of ${thousands(raw.sent)} failed${errors}, ${thousands(raw.lost)} acknowledged but not stored`);
      }
      if (singles.omnibusLost !== 0) notes.push(`${label}: omnibus single publishes: ${thousands(singles.omnibusLost)} resolved but not stored`);
      const reference = RUST_REFERENCE.find((line) => line.bytes === size.bytes);
      if (reference !== undefined) {
        notes.push(
          `${label}: a Rust Kafka event bus reports ${thousands(reference.rate)} msg/s for its own sends (other hardware, not run here); ` +
            `publishMany here ${thousands(batches.omnibus)} msg/s (${(batches.omnibus / reference.rate).toFixed(2)}x), raw ${thousands(batches.raw)} msg/s (${(batches.raw / reference.rate).toFixed(2)}x)`,
        );
      }
    }
    const width = Math.max(...rows.map((row) => row.baselineName.length));
    printTable(rows.map((row) => ({ ...row, baselineName: row.baselineName.padEnd(width) })));
    for (const line of notes) console.log(line);
  } finally {
    await suite.close();
    await own?.dispose();
  }
}
