// What one `npm run bench` leaves behind: every row each benchmark printed, as a CSV file in
// bench/results/<date>-<commit>.csv (the figures), a Markdown summary beside it, and a
// comparison against an earlier file (`--compare`), which flags ratios that dropped.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Row } from '../measure.js';

/** A printed row, with the benchmark that printed it. */
export interface Result extends Row {
  bench: string;
}

const collected: Result[] = [];
let current = '';

/** The benchmark whose rows come next (bench/run.ts sets it before each). */
export function startBench(name: string): void {
  current = name;
}

/** Called by `printTable`: every row printed is a row of the results file. */
export function record(rows: Row[]): void {
  for (const row of rows) collected.push({ ...row, bench: current });
}

export function results(): readonly Result[] {
  return collected;
}

/** Rates ('.../s') read higher-is-better; anything else (a latency) lower-is-better. */
export const isRate = (unit: string) => unit.endsWith('/s');

export function formatFigure(value: number, unit: string): string {
  return isRate(unit) ? `${Math.round(value).toLocaleString('en-US')} ${unit}` : `${value.toFixed(3)} ${unit}`;
}

/** How many times better than its baseline a figure is, whichever way its unit reads. */
export function ratio(row: Row): number {
  return isRate(row.unit) ? row.omnibus / row.baseline : row.baseline / row.omnibus;
}

const COLUMNS = [
  'scenario', 'driver', 'payload_bytes', 'msg_per_s', 'mb_per_s', 'p50_ms', 'p99_ms', 'p999_ms',
  'baseline_name', 'baseline', 'ratio', 'commit', 'node', 'cpu',
] as const;

/** Which latency percentile a row gives: its own field, or the `p50`/`p99`/`p999` its scenario names. */
function percentileOf(row: Row): '50' | '99' | '999' | undefined {
  if (isRate(row.unit)) return undefined;
  if (row.percentile !== undefined) return String(row.percentile) as '50' | '99' | '999';
  return /\bp(50|99|999)\b/.exec(row.scenario)?.[1] as '50' | '99' | '999' | undefined;
}

const MS_PER: Record<string, number> = { ns: 1e-6, 'µs': 1e-3, us: 1e-3, ms: 1, s: 1_000 };
/** The units a latency row may be in. */
export const LATENCY_UNITS = new Set(Object.keys(MS_PER));

/** A latency in milliseconds, whatever unit the row gives it in. */
export function inMs(value: number, unit: string): number {
  const factor = MS_PER[unit];
  if (factor === undefined) throw new Error(`a latency row in '${unit}': give it in ns, µs, ms or s`);
  return value * factor;
}

export interface RunInfo {
  commit: string;
  node: string;
  cpu: string;
}

export function runInfo(): RunInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the file still says everything else.
  }
  return { commit, node: process.version, cpu: `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}` };
}

function cell(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = typeof value === 'number' ? String(Number(value.toPrecision(6))) : value;
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(rows: readonly Result[], info: RunInfo): string {
  const lines = [COLUMNS.join(',')];
  for (const row of rows) {
    const rate = isRate(row.unit) ? row.omnibus : undefined;
    const p = percentileOf(row);
    const values: Record<(typeof COLUMNS)[number], string | number | undefined> = {
      scenario: row.scenario,
      driver: row.bench,
      payload_bytes: row.payloadBytes,
      msg_per_s: rate,
      mb_per_s: rate !== undefined && row.payloadBytes !== undefined ? (rate * row.payloadBytes) / 1e6 : undefined,
      p50_ms: p === '50' ? inMs(row.omnibus, row.unit) : undefined,
      p99_ms: p === '99' ? inMs(row.omnibus, row.unit) : undefined,
      p999_ms: p === '999' ? inMs(row.omnibus, row.unit) : undefined,
      baseline_name: row.baselineName,
      baseline: row.baseline,
      ratio: ratio(row),
      ...info,
    };
    lines.push(COLUMNS.map((column) => cell(values[column])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Splits one CSV line as `toCsv` writes it: quoted cells may hold commas and doubled quotes. */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  for (const [, raw, end] of line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)) {
    cells.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw);
    if (end === '') break;
  }
  return cells;
}

/** A results file's rows as records by column name. */
export function readCsv(path: string): Array<Record<string, string>> {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const names = splitCsvLine(header);
  return lines.map((line) => Object.fromEntries(splitCsvLine(line).map((value, i) => [names[i], value])));
}

/** A ratio that fell by more than this fraction of its earlier value is flagged. */
export const DROP_FLAG = 0.1;

/** Each row of this run beside the same (driver, scenario) in an earlier file: the ratio then and now. */
export function compare(rows: readonly Result[], earlier: Array<Record<string, string>>): { lines: string[]; dropped: number } {
  // One scenario may stand beside several baselines: each pair is a figure of its own.
  const key = (driver: string, scenario: string, baseline: string) => `${driver}\u0000${scenario}\u0000${baseline}`;
  const before = new Map(earlier.map((row) => [key(row.driver, row.scenario, row.baseline_name), Number(row.ratio)]));
  const lines: string[] = [];
  let dropped = 0;
  for (const row of rows) {
    const then = before.get(key(row.bench, row.scenario, row.baselineName));
    const now = ratio(row);
    if (then === undefined) {
      lines.push(`  new      ${row.bench}: ${row.scenario} vs ${row.baselineName}  ${now.toFixed(2)}x`);
      continue;
    }
    const change = (now - then) / then;
    const flag = change < -DROP_FLAG;
    if (flag) dropped++;
    lines.push(`${flag ? '! dropped' : '         '} ${row.bench}: ${row.scenario} vs ${row.baselineName}  ${then.toFixed(2)}x -> ${now.toFixed(2)}x (${change >= 0 ? '+' : ''}${(change * 100).toFixed(0)}%)`);
  }
  return { lines, dropped };
}

/** The Markdown summary: per benchmark, each figure beside its baseline and the ratio. */
export function toMarkdown(rows: readonly Result[], info: RunInfo, charts: string[]): string {
  const out = [`# Benchmark results, ${info.commit}`, '', `Node ${info.node}, ${info.cpu}. Ratios above 1 are better than the baseline.`, ''];
  for (const chart of charts) out.push(`![${chart}](${chart})`, '');
  for (const bench of [...new Set(rows.map((row) => row.bench))]) {
    out.push(`## ${bench}`, '', '| scenario | omnibus | baseline | ratio |', '| --- | --- | --- | --- |');
    for (const row of rows.filter((each) => each.bench === bench)) {
      out.push(`| ${row.scenario} | ${formatFigure(row.omnibus, row.unit)} | ${row.baselineName}: ${formatFigure(row.baseline, row.unit)} | ${ratio(row).toFixed(2)}x |`);
    }
    out.push('');
  }
  return out.join('\n');
}
