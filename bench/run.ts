// `npm run bench -- [<name>...] [--compare <csv>]`: runs bench/<name>.ts for each name (all but
// the long runs, bench/soak.ts and bench/scale.ts, when none given), then writes every row
// printed to bench/results/<date>-<commit>.csv with a Markdown summary and SVG charts, and
// with --compare prints each ratio beside the earlier file's, flagging those that dropped by
// more than 10%.
// Benchmarks are not tests: run them on a quiet machine, apart from `npm test`.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { historyChart, latencyChart, throughputChart } from './support/charts.js';
import { compare, DROP_FLAG, isRate, LATENCY_UNITS, readCsv, results, runInfo, startBench, toCsv, toMarkdown } from './support/results.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && !['run.ts', 'measure.ts'].includes(file))
  .map((file) => file.slice(0, -3));
const { values, positionals: wanted } = parseArgs({ allowPositionals: true, options: { compare: { type: 'string' } } });
for (const name of wanted) {
  if (!available.includes(name)) {
    console.error(`unknown benchmark '${name}'; available: ${available.join(', ')}`);
    process.exit(2);
  }
}
const earlier = values.compare === undefined ? undefined : readCsv(values.compare);

// The long run and the 10,000-client run take minutes of their own: they run when named.
const LONG = ['soak', 'scale'];
for (const name of wanted.length > 0 ? wanted : available.filter((each) => !LONG.includes(each))) {
  console.log(`\n## ${name}`);
  startBench(name);
  const bench = (await import(`./${name}.ts`)) as { default: () => Promise<void> };
  await bench.default();
}

const rows = results();
if (rows.length > 0) {
  const info = runInfo();
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const stem = `${new Date().toISOString().slice(0, 10)}-${info.commit}`;
  writeFileSync(join(dir, `${stem}.csv`), toCsv(rows, info));
  const charts: string[] = [];
  for (const [suffix, draw, drawn] of [
    ['throughput', throughputChart, rows.filter((row) => isRate(row.unit))],
    ['latency', latencyChart, rows.filter((row) => LATENCY_UNITS.has(row.unit))],
  ] as const) {
    if (drawn.length === 0) continue;
    const file = `${stem}-${suffix}.svg`;
    writeFileSync(join(dir, file), await draw(drawn));
    charts.push(file);
  }
  const history = readdirSync(dir).filter((file) => file.endsWith('.csv')).map((file) => join(dir, file));
  writeFileSync(join(dir, 'history.svg'), await historyChart(history));
  charts.push('history.svg');
  writeFileSync(join(dir, `${stem}.md`), toMarkdown(rows, info, charts));
  console.log(`\nresults: bench/results/${stem}.csv, .md and charts`);
}

if (earlier !== undefined) {
  const { lines, dropped } = compare(rows, earlier);
  console.log(`\n## compared with ${values.compare}`);
  for (const line of lines) console.log(line);
  if (dropped > 0) {
    console.log(`${dropped} ratio(s) dropped by more than ${DROP_FLAG * 100}%`);
    process.exitCode = 1;
  }
}
