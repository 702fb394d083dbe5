// The run's charts, drawn by vega-lite and rendered to SVG in Node: throughput beside its
// baseline, latency percentiles, and the ratio history across the committed results files.

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { inMs, readCsv, type Result } from './results.js';

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Each throughput row (a rate) beside its baseline, one panel per benchmark (log scale: rates span 1k to 10M). */
export function throughputChart(rows: readonly Result[]): Promise<string> {
  const values = rows.flatMap((row) => [
      { bench: row.bench, scenario: `${row.scenario} vs ${row.baselineName}`, who: 'omnibus', rate: row.omnibus },
      { bench: row.bench, scenario: `${row.scenario} vs ${row.baselineName}`, who: 'baseline', rate: row.baseline },
    ]);
  return svg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Throughput beside the baseline of the same run (msg/s)',
    data: { values },
    facet: { row: { field: 'bench', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 420,
      mark: 'bar',
      encoding: {
        y: { field: 'scenario', type: 'nominal', title: null, axis: { labelLimit: 360 } },
        yOffset: { field: 'who', type: 'nominal' },
        x: { field: 'rate', type: 'quantitative', scale: { type: 'log' }, title: 'msg/s' },
        // A bar on a log scale cannot start at 0: these start at 1 msg/s.
        x2: { datum: 1 },
        color: { field: 'who', type: 'nominal', title: null },
      },
    },
  });
}

/** Latency rows (percentiles) of Omnibus beside its baseline's, per scenario. */
export function latencyChart(rows: readonly Result[]): Promise<string> {
  const values = rows.flatMap((row) => [
      { bench: row.bench, scenario: `${row.scenario} vs ${row.baselineName}`, who: 'omnibus', ms: inMs(row.omnibus, row.unit) },
      { bench: row.bench, scenario: `${row.scenario} vs ${row.baselineName}`, who: 'baseline', ms: inMs(row.baseline, row.unit) },
    ]);
  return svg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Latency beside the baseline of the same run (ms)',
    data: { values },
    facet: { row: { field: 'bench', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 420,
      mark: 'bar',
      encoding: {
        y: { field: 'scenario', type: 'nominal', title: null, axis: { labelLimit: 360 } },
        yOffset: { field: 'who', type: 'nominal' },
        x: { field: 'ms', type: 'quantitative', title: 'ms' },
        color: { field: 'who', type: 'nominal', title: null },
      },
    },
  });
}

/** The median ratio per benchmark in each committed results file, oldest first (files are named <date>-<commit>.csv). */
export function historyChart(files: string[]): Promise<string> {
  const values = files.sort().flatMap((file) => {
    const run = file.split('/').pop()!.replace(/\.csv$/, '');
    const byBench = new Map<string, number[]>();
    for (const row of readCsv(file)) {
      const list = byBench.get(row.driver) ?? [];
      list.push(Number(row.ratio));
      byBench.set(row.driver, list);
    }
    return [...byBench].map(([bench, ratios]) => ({ run, bench, ratio: ratios.sort((a, b) => a - b)[Math.floor(ratios.length / 2)] }));
  });
  return svg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Median ratio to the baseline per benchmark, by run',
    data: { values },
    width: 420,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'run', type: 'ordinal', title: null },
      y: { field: 'ratio', type: 'quantitative', title: 'ratio (x)' },
      color: { field: 'bench', type: 'nominal', title: null },
    },
  });
}

/** The heap of each soak, second by second. */
export function heapChart(samples: ReadonlyArray<{ driver: string; second: number; heapMb: number }>): Promise<string> {
  return svg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Heap used during the long run (MB)',
    data: { values: [...samples] },
    width: 420,
    mark: 'line',
    encoding: {
      x: { field: 'second', type: 'quantitative', title: 's' },
      y: { field: 'heapMb', type: 'quantitative', title: 'MB' },
      color: { field: 'driver', type: 'nominal', title: null },
    },
  });
}
