// Generates the README's driver table from each driver's declared capabilities, so the
// table cannot drift from what the conformance suite checks. `npm run docs` rewrites it.

import { readFile, writeFile } from 'node:fs/promises';
import { driverRegistry } from '../src/config/driver-registry.js';

const BEGIN = '<!-- driver-table:begin -->';
const END = '<!-- driver-table:end -->';

const yes = (value: boolean) => (value ? 'yes' : '—');

export async function driverTable(): Promise<string> {
  const rows = [
    '| driver | import | persistent | groups | replay | dedupe | ordering | wildcards | ack deadline | max payload | needs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [type, registered] of Object.entries(driverRegistry)) {
    const driver = (await registered.load())(registered.defaults ?? {});
    const c = driver.capabilities;
    const max = Number.isFinite(c.maxPayloadBytes) ? `${Math.round(c.maxPayloadBytes / 1024)} KiB` : 'no limit';
    rows.push(
      `| ${type} | \`omnibus/drivers/${type}\` | ${yes(c.persistent)} | ${yes(c.groups)} | ${yes(c.replay)} | ${yes(c.dedupe)} | ${c.ordering} | ${c.nativeWildcards ? 'native' : 'filtered'} | ${yes(c.ackDeadline)} | ${max} | ${registered.needs} |`,
    );
    await driver.close();
  }
  return rows.join('\n');
}

export function withTable(readme: string, table: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`README.md lacks the ${BEGIN} ... ${END} markers`);
  return `${readme.slice(0, start + BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readme = await readFile('README.md', 'utf8');
  await writeFile('README.md', withTable(readme, await driverTable()));
  console.log('README.md driver table updated');
}
