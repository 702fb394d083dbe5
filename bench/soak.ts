// The long run: 10 million messages through the memory and the SQLite driver, published in
// batches and handled by one subscriber, with the heap sampled every second after a full
// garbage collection. After a warm-up
// (the first tenth of the messages) the heap must stay within HEAP_BOUND_MB of where it was:
// a leak per message, however small, shows as a climb over 10 million. SOAK_MESSAGES=n runs
// a shorter soak.

import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createBus } from '../src/index.js';
import type { Driver } from '../src/core/driver.js';
import { memory } from '../src/drivers/memory/index.js';
import { sqlite } from '../src/drivers/sqlite/index.js';
import { heapChart } from './support/charts.js';
import { printTable, type Row } from './measure.js';

const MESSAGES = Number(process.env.SOAK_MESSAGES ?? 10_000_000);
const BATCH = 1_000;
/** In flight at once: enough to keep the driver busy, few enough that they are not the heap. */
const WINDOW = 20;
/** How far the heap may rise above its size at the end of the warm-up. */
const HEAP_BOUND_MB = 64;
// A full collection before each sample, so the curve shows what is retained, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const payload = { id: 'order-000001', customer: 'customer-42', total: 1234.5, note: 'x'.repeat(40) };

export interface HeapSample {
  driver: string;
  second: number;
  heapMb: number;
  handled: number;
}

async function soak(name: string, driver: Driver, samples: HeapSample[]): Promise<Row[]> {
  const bus = createBus({ driver });
  let handled = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  await bus.subscribe('soak.orders', () => {
    if (++handled === MESSAGES) finished();
  });
  const items = Array.from({ length: BATCH }, () => ({ topic: 'soak.orders', data: payload }));
  const start = performance.now();
  let warmHeap: number | undefined;
  let peakAfterWarmUp = 0;
  let nextSample = start + 1_000;
  // Sampled from the publishing loop, not a timer: the memory driver's publishes settle in
  // microtasks, which would hold a timer off until the end.
  const sample = () => {
    const now = performance.now();
    if (now < nextSample) return;
    collectGarbage();
    nextSample = performance.now() + 1_000;
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    samples.push({ driver: name, second: Math.round((now - start) / 1000), heapMb, handled });
    if (handled >= MESSAGES / 10) {
      warmHeap ??= heapMb;
      peakAfterWarmUp = Math.max(peakAfterWarmUp, heapMb);
    }
  };
  let published = 0;
  const lane = async () => {
    while (published < MESSAGES) {
      published += BATCH;
      await bus.publishMany(items);
      sample();
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  await done;
  const seconds = (performance.now() - start) / 1000;
  await bus.close();
  if (warmHeap === undefined) throw new Error(`${name}: the soak ended before a heap sample after warm-up; run more messages`);
  console.log(`${name}: ${MESSAGES.toLocaleString('en-US')} messages in ${seconds.toFixed(0)} s; heap after warm-up ${warmHeap.toFixed(0)} MB, peak ${peakAfterWarmUp.toFixed(0)} MB`);
  // The bound is the baseline: a ratio of 1 or more means the heap stayed within it.
  return [{
    scenario: `peak heap after warm-up, ${MESSAGES.toLocaleString('en-US')} messages`,
    omnibus: peakAfterWarmUp,
    baseline: warmHeap + HEAP_BOUND_MB,
    baselineName: `bound (warm-up heap + ${HEAP_BOUND_MB} MB)`,
    unit: 'MB',
  }];
}

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-soak-'));
  const samples: HeapSample[] = [];
  try {
    const rows = [
      ...(await soak('memory', memory(), samples)),
      // Retention keeps the file from holding all 10 million (it is not what is measured).
      ...(await soak('sqlite', sqlite({ path: join(dir, 'soak.db'), retention: [{ topics: '>', maxMessages: 100_000 }] }), samples)),
    ];
    printTable(rows);
    const out = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'soak-heap.svg'), await heapChart(samples));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
