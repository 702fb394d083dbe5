// In-process throughput and latency: the memory driver beside emittery (awaited emit)
// and Node's EventEmitter, measured in the same run with the same 100-byte payloads.

import { EventEmitter } from 'node:events';
import Emittery from 'emittery';
import { createBus, matchesPattern } from '../src/index.js';
import { PatternIndex } from '../src/driver-kit/index.js';
import { interleaved, percentile, printTable, rate, type Row } from './measure.js';

const COUNT = 500_000;
const RUNS = 3;
const payload = { id: 'order-000001', customer: 'customer-42', total: 1234.5, note: 'x'.repeat(40) };

/** A bus with `subscribers` on one topic, and a run that publishes COUNT messages in batches of `batch`. */
async function omnibusPublisher(subscribers: number, batch: number): Promise<{ run: () => Promise<number>; close: () => Promise<void> }> {
  const bus = createBus();
  let received = 0;
  let done: () => void = () => {};
  const target = COUNT * subscribers;
  for (let s = 0; s < subscribers; s++) {
    await bus.subscribe('bench.orders', () => {
      if (++received === target) done();
    });
  }
  const items = Array.from({ length: batch }, () => ({ topic: 'bench.orders', data: payload }));
  const run = () =>
    rate(COUNT, async () => {
      received = 0;
      const finished = new Promise<void>((resolve) => (done = resolve));
      if (batch === 1) for (let i = 0; i < COUNT; i++) await bus.publish('bench.orders', payload);
      else for (let i = 0; i < COUNT; i += batch) await bus.publishMany(items);
      await finished;
    });
  return { run, close: () => bus.close() };
}

function emitteryPublisher(subscribers: number): () => Promise<number> {
  const emitter = new Emittery();
  let received = 0;
  for (let s = 0; s < subscribers; s++) emitter.on('bench.orders', () => void received++);
  return () =>
    rate(COUNT, async () => {
      for (let i = 0; i < COUNT; i++) await emitter.emit('bench.orders', payload);
    });
}

function eventEmitterPublisher(subscribers: number): () => Promise<number> {
  const emitter = new EventEmitter();
  let received = 0;
  for (let s = 0; s < subscribers; s++) emitter.on('bench.orders', () => void received++);
  return () =>
    rate(COUNT, async () => {
      for (let i = 0; i < COUNT; i++) emitter.emit('bench.orders', payload);
    });
}

/** Publish-to-handler latency of awaited publishes, in milliseconds, sorted. */
async function omnibusLatency(): Promise<number[]> {
  const bus = createBus();
  const samples: number[] = [];
  await bus.subscribe('bench.latency', (message) => void samples.push(performance.now() - (message.data as { at: number }).at));
  for (let i = 0; i < 100_000; i++) await bus.publish('bench.latency', { at: performance.now(), payload });
  await bus.close();
  return samples.sort((a, b) => a - b);
}

async function emitteryLatency(): Promise<number[]> {
  const emitter = new Emittery();
  const samples: number[] = [];
  emitter.on('bench.latency', (data) => void samples.push(performance.now() - (data as { at: number }).at));
  for (let i = 0; i < 100_000; i++) await emitter.emit('bench.latency', { at: performance.now(), payload });
  return samples.sort((a, b) => a - b);
}

/** Topic lookups per second among 10,000 subscription patterns: the trie against a linear scan. */
async function patternLookups(): Promise<[number, number]> {
  const patterns = Array.from({ length: 10_000 }, (_, i) => (i % 3 === 0 ? `tenant${i}.*.events` : i % 3 === 1 ? `tenant${i}.orders.>` : `tenant${i}.orders.placed`));
  const index = new PatternIndex<number>();
  patterns.forEach((pattern, i) => index.add(pattern, i));
  // More distinct topics than the index caches, so lookups walk the trie.
  const topics = Array.from({ length: 20_000 }, (_, i) => `tenant${i % 10_000}.orders.placed`);
  const lookups = 200_000;
  const scanned = 2_000;
  const { trie, linear } = await interleaved(RUNS, {
    trie: () => rate(lookups, async () => {
      for (let i = 0; i < lookups; i++) index.match(topics[i % topics.length]);
    }),
    linear: () => rate(scanned, async () => {
      for (let i = 0; i < scanned; i++) {
        const topic = topics[i % topics.length];
        patterns.filter((pattern) => matchesPattern(pattern, topic));
      }
    }),
  });
  return [trie, linear];
}

export default async function bench(): Promise<void> {
  const rows: Row[] = [];
  for (const subscribers of [1, 10]) {
    const single = await omnibusPublisher(subscribers, 1);
    const batched = await omnibusPublisher(subscribers, 1_000);
    const { emittery, plain, one, many } = await interleaved(RUNS, {
      emittery: emitteryPublisher(subscribers),
      plain: eventEmitterPublisher(subscribers),
      one: single.run,
      many: batched.run,
    });
    await single.close();
    await batched.close();
    rows.push({ scenario: `awaited publish, ${subscribers} subscriber(s)`, omnibus: one, baseline: emittery, baselineName: 'emittery', unit: 'msg/s' });
    rows.push({ scenario: `awaited publish, ${subscribers} subscriber(s)`, omnibus: one, baseline: plain, baselineName: 'EventEmitter', unit: 'msg/s' });
    rows.push({ scenario: `publishMany x1000, ${subscribers} subscriber(s)`, omnibus: many, baseline: emittery, baselineName: 'emittery', unit: 'msg/s' });
  }
  const ours = await omnibusLatency();
  const theirs = await emitteryLatency();
  for (const p of [50, 99]) {
    rows.push({ scenario: `publish-to-handler latency p${p}`, omnibus: percentile(ours, p) * 1000, baseline: percentile(theirs, p) * 1000, baselineName: 'emittery', unit: 'µs' });
  }
  const [trie, linear] = await patternLookups();
  rows.push({ scenario: 'topic lookup among 10,000 patterns', omnibus: trie, baseline: linear, baselineName: 'linear scan', unit: 'lookups/s' });
  printTable(rows);
}
