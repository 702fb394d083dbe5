// The run's charts, drawn by vega-lite and rendered to SVG in Node: throughput beside its
// baseline, latency percentiles, and the ratio history across the committed results files.

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { inMs, readCsv, type Result } from './results.js';

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Each row's figure beside its baseline's, a pair of bars per scenario, one panel per benchmark. */
function besideBaseline(rows: readonly Result[], title: string, unit: string, figure: (value: number, row: Result) => number, log: boolean): Promise<string> {
  const values = rows.flatMap((row) => {
    const scenario = `${row.scenario} vs ${row.baselineName}`;
    return [
      { bench: row.bench, scenario, who: 'omnibus', value: figure(row.omnibus, row) },
      { bench: row.bench, scenario, who: 'baseline', value: figure(row.baseline, row) },
    ];
  });
  return svg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    facet: { row: { field: 'bench', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 420,
      mark: 'bar',
      encoding: {
        y: { field: 'scenario', type: 'nominal', title: null, axis: { labelLimit: 360 } },
        yOffset: { field: 'who', type: 'nominal' },
        // A bar on a log scale cannot start at 0: those start at 1.
        ...(log
          ? { x: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: unit }, x2: { datum: 1 } }
          : { x: { field: 'value', type: 'quantitative', title: unit } }),
        color: { field: 'who', type: 'nominal', title: null },
      },
    },
  });
}

/** Each throughput row (a rate) beside its baseline (log scale: rates span 1k to 10M). */
export function throughputChart(rows: readonly Result[]): Promise<string> {
  return besideBaseline(rows, 'Throughput beside the baseline of the same run (msg/s)', 'msg/s', (value) => value, true);
}

/** Latency rows (percentiles) beside the baseline's, in ms. */
export function latencyChart(rows: readonly Result[]): Promise<string> {
  return besideBaseline(rows, 'Latency beside the baseline of the same run (ms)', 'ms', (value, row) => inMs(value, row.unit), false);
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
