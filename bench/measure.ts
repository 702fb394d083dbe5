// Shared measuring for benchmarks: rates, latency percentiles, and a table that prints
// each figure beside its baseline from the same run.

import type { Bus } from '../src/core/bus.js';
import { formatFigure, ratio, record } from './support/results.js';

export interface Row {
  scenario: string;
  omnibus: number;
  baseline: number;
  baselineName: string;
  unit: string;
  /** The payload size, for the results file's MB/s. */
  payloadBytes?: number;
  /** For a latency row, the percentile it gives (else read from `p50`/`p99`/`p999` in the scenario). */
  percentile?: 50 | 99 | 999;
}

/** Runs `work` (which handles `count` messages) and returns messages per second. */
export async function rate(count: number, work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return count / ((performance.now() - start) / 1000);
}

/** Runs `count` calls of `one`, keeping `window` of them in flight. */
export async function windowed(count: number, window: number, one: () => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next++ < count) await one();
  };
  await Promise.all(Array.from({ length: window }, lane));
}

/**
 * The median figure of each contender over `runs` rounds in which they take turns, after a
 * warm-up round: drift during the run (JIT, the server's caches, a busy neighbour) then
 * falls on all of them alike instead of on whichever ran last, and one lucky or unlucky
 * run does not decide the figure. Each call gets its round (0 is the warm-up), for
 * measurements that need a fresh group or stream per run.
 */
export async function interleaved<K extends string>(runs: number, contenders: Record<K, (round: number) => Promise<number>>): Promise<Record<K, number>> {
  const names = Object.keys(contenders) as K[];
  const figures = {} as Record<K, number[]>;
  for (const name of names) figures[name] = [];
  for (let round = 0; round <= runs; round++) {
    for (const name of names) {
      const figure = await contenders[name](round);
      if (round > 0) figures[name].push(figure);
    }
  }
  const medians = {} as Record<K, number>;
  for (const name of names) medians[name] = percentile(figures[name].sort((a, b) => a - b), 50);
  return medians;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Prints each figure beside its baseline, and keeps the rows for the run's results file. */
export function printTable(rows: Row[]): void {
  record(rows);
  for (const row of rows) {
    console.log(
      `${row.scenario.padEnd(44)} omnibus ${formatFigure(row.omnibus, row.unit).padStart(20)}   ` +
        `${row.baselineName} ${formatFigure(row.baseline, row.unit).padStart(20)}   ratio ${ratio(row).toFixed(2)}x`,
    );
  }
}

/** Messages per second one group consumes from `topic`'s retained backlog of `count`; closes the bus. */
export async function groupConsumeRate(bus: Bus, topic: string, count: number, group: string): Promise<number> {
  let handled = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  // Connected before the clock starts, as the raw consumer beside it is.
  await bus.health();
  const start = performance.now();
  await bus.subscribe(topic, () => {
    if (++handled === count) done();
  }, { group, from: 'earliest' });
  await finished;
  const elapsed = performance.now() - start;
  await bus.close();
  return count / (elapsed / 1000);
}
