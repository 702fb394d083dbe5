// `npm run docs`: makes everything that lists the drivers from their declarations
// (src/drivers/<type>/entry.ts), so a new driver is its folder and nothing edited by hand:
// src/drivers/declarations.ts, package.json's exports and peer dependencies, the README's
// driver table and address list, and docs/drivers.md. test/drivers-listed.test.ts and
// test/readme.test.ts fail when any of them drifts.

import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Capabilities, Driver } from '../src/core/driver.js';
import type { DriverDeclaration, DriverSemantics } from '../src/driver-kit/declaration.js';

type Json = Record<string, any>;

/** Driver folders that hold an entry.ts, in order; memory first as the default. */
export function driverFolders(root = 'src/drivers'): string[] {
  const folders = readdirSync(root, { withFileTypes: true })
    .filter((item) => item.isDirectory() && existsSync(`${root}/${item.name}/entry.ts`))
    .map((item) => item.name)
    .sort();
  return ['memory', ...folders.filter((name) => name !== 'memory')].filter((name) => folders.includes(name));
}

export function declarationsModule(folders: string[]): string {
  const name = (folder: string) => folder.replace(/[^A-Za-z0-9]/g, '_');
  return [
    '// Every driver\'s declaration, made by `npm run docs` from the folders of src/drivers: do not edit.',
    '',
    "import type { DriverDeclaration } from '../driver-kit/declaration.js';",
    ...folders.map((folder) => `import ${name(folder)} from './${folder}/entry.js';`),
    '',
    `export const declarations: DriverDeclaration[] = [${folders.map(name).join(', ')}];`,
    '',
  ].join('\n');
}

export async function loadDeclarations(folders = driverFolders()): Promise<DriverDeclaration[]> {
  return Promise.all(folders.map(async (folder) => (await import(`../src/drivers/${folder}/entry.ts`)).default as DriverDeclaration));
}

/** package.json with one subpath export per driver and each driver's peers as optional peer dependencies. */
export function withDrivers(pkg: Json, declarations: DriverDeclaration[]): Json {
  const exports: Json = {};
  const drivers = Object.fromEntries(
    declarations.map((d) => [`./drivers/${d.type}`, { types: `./dist/drivers/${d.type}/index.d.ts`, default: `./dist/drivers/${d.type}/index.js` }]),
  );
  let placed = false;
  for (const [subpath, target] of Object.entries(pkg.exports as Json)) {
    if (subpath.startsWith('./drivers/')) {
      if (!placed) Object.assign(exports, drivers);
      placed = true;
    } else exports[subpath] = target;
  }
  if (!placed) Object.assign(exports, drivers);
  // Peers no driver declares (OpenTelemetry) stay as they are; the drivers' come from their declarations.
  const declared = new Map(declarations.flatMap((d) => Object.entries(d.peers)));
  const peerDependencies: Json = {};
  const peerDependenciesMeta: Json = {};
  for (const [name, range] of Object.entries((pkg.peerDependencies ?? {}) as Json)) {
    if (declared.has(name)) continue;
    peerDependencies[name] = range;
    peerDependenciesMeta[name] = pkg.peerDependenciesMeta?.[name];
  }
  for (const [name, range] of declared) {
    peerDependencies[name] = range;
    peerDependenciesMeta[name] = { optional: true };
  }
  // Sorted as npm writes them, so an install and `npm run docs` leave the same file.
  const sortedPeers = Object.fromEntries(Object.entries(peerDependencies).sort(([a], [b]) => a.localeCompare(b, 'en')));
  return { ...pkg, exports, peerDependencies: sortedPeers, peerDependenciesMeta };
}

const yes = (value: boolean) => (value ? 'yes' : '—');
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;

interface MadeDriver {
  declaration: DriverDeclaration;
  capabilities: Capabilities;
  /** It offers `lag()`. */
  lag: boolean;
}

/** Each driver made with its table options, so the tables show what a real driver reports, not what a list says. */
async function madeDrivers(declarations: DriverDeclaration[]): Promise<MadeDriver[]> {
  const made: MadeDriver[] = [];
  for (const declaration of declarations) {
    const make = (await declaration.load()) as (options: Record<string, unknown>) => Driver;
    const driver = make(declaration.tableOptions ?? {});
    made.push({ declaration, capabilities: { ...driver.capabilities }, lag: driver.lag !== undefined });
    await driver.close();
  }
  return made;
}

const CAPABILITY_HEADINGS = ['persistent', 'groups', 'replay', 'dedupe', 'ordering', 'wildcards', 'ack deadline', 'max payload'];

function capabilityCells(c: Capabilities): string[] {
  const max = Number.isFinite(c.maxPayloadBytes) ? `${Math.round(c.maxPayloadBytes / 1024)} KiB` : 'no limit';
  return [yes(c.persistent), yes(c.groups), yes(c.replay), dedupeCell(c), c.ordering, c.nativeWildcards ? 'native' : 'filtered', yes(c.ackDeadline), max];
}

/** How long a driver with `dedupe` remembers an id, as the table says it: `2 min`. */
function dedupeCell(c: Capabilities): string {
  const window = c.dedupeWindowMs;
  if (!c.dedupe || window === undefined) return yes(c.dedupe);
  if (window % 60_000 === 0) return `${window / 60_000} min`;
  return window % 1_000 === 0 ? `${window / 1_000} s` : `${window} ms`;
}

/** The README's driver table, with each driver's capabilities as a driver made with its table options reports them. */
export async function driverTable(declarations: DriverDeclaration[]): Promise<string> {
  const headings = ['driver', 'import', ...CAPABILITY_HEADINGS, 'needs'];
  const rows = [row(headings), row(headings.map(() => '---'))];
  for (const { declaration, capabilities } of await madeDrivers(declarations)) {
    rows.push(row([declaration.type, `\`omnibus/drivers/${declaration.type}\``, ...capabilityCells(capabilities), declaration.needs]));
  }
  return rows.join('\n');
}

const PAGE_INTRO = `<!-- Made by \`npm run docs\` from each driver's declaration (src/drivers/<type>/entry.ts, its \`semantics\`): edit those, not this page. -->

# The drivers compared

Every driver keeps one contract, which the conformance suite checks: a subscription without
\`group\` gets every matching message published after it subscribed; a group gives each message
to one live member and delivers again what a member leaves unsettled (at least once); a handler
that throws is retried, then dead-lettered, by core. What differs is what the broker holds, for
how long, and what a resolved call means on it. The table shows each driver's capabilities as a
driver made with its default options reports them (and whether it reports consumer lag); each
section below says what its calls guarantee and what it cannot do.`;

const SEMANTICS: Array<[Exclude<keyof DriverSemantics, 'limits'>, string]> = [
  ['publish', 'A resolved \`publish()\`'],
  ['ack', 'A resolved \`ack()\`'],
  ['durability', 'Durability'],
  ['ordering', 'Ordering'],
  ['dedupe', 'De-duplication'],
  ['groups', 'Groups'],
  ['replay', 'Replay'],
  ['ackDeadline', 'Ack deadline'],
  ['maxPayload', 'Max payload'],
  ['lag', 'Consumer lag'],
  ['delays', 'Delayed delivery'],
];

/** One driver's section: its semantics, and a link to its own page where docs/<type>.md exists. */
function driverSection({ type, needs, semantics }: DriverDeclaration): string {
  const page = existsSync(`docs/${type}.md`) ? ` Its own page: [${type}.md](${type}.md).` : '';
  return [
    `## ${type}`,
    '',
    `\`omnibus/drivers/${type}\`, needing ${needs}.${page}`,
    '',
    ...SEMANTICS.map(([field, label]) => `- **${label}**: ${semantics[field]}`),
    '- **What it cannot do**:',
    ...semantics.limits.map((limit) => `  - ${limit}`),
  ].join('\n');
}

/** docs/drivers.md: the capabilities of every driver side by side, then each one's semantics. */
export async function driversPage(declarations: DriverDeclaration[]): Promise<string> {
  const headings = ['driver', ...CAPABILITY_HEADINGS, 'lag', 'delayed delivery'];
  const table = [row(headings), row(headings.map(() => '---'))];
  for (const { declaration, capabilities, lag } of await madeDrivers(declarations)) {
    table.push(row([`[${declaration.type}](#${declaration.type})`, ...capabilityCells(capabilities), yes(lag), yes(capabilities.delayedDelivery === true)]));
  }
  return `${[PAGE_INTRO, table.join('\n'), ...declarations.map(driverSection)].join('\n\n')}\n`;
}

/** The addresses `OMNIBUS_URL` takes, one per driver. */
export function addressList(declarations: DriverDeclaration[]): string {
  return declarations.map((d) => `\`${d.example}\``).join(', ');
}

/** `text` with what stands between `<!-- name:begin -->` and `<!-- name:end -->` replaced. */
export function between(text: string, name: string, content: string, inline = false): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < 0) throw new Error(`README.md lacks the ${begin} ... ${end} markers`);
  const gap = inline ? '' : '\n';
  return `${text.slice(0, start + begin.length)}${gap}${content}${gap}${text.slice(stop)}`;
}

export async function readme(text: string, declarations: DriverDeclaration[]): Promise<string> {
  return between(between(text, 'driver-table', await driverTable(declarations)), 'driver-urls', addressList(declarations), true);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const folders = driverFolders();
  const declarations = await loadDeclarations(folders);
  await writeFile('src/drivers/declarations.ts', declarationsModule(folders));
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as Json;
  await writeFile('package.json', `${JSON.stringify(withDrivers(pkg, declarations), null, 2)}\n`);
  await writeFile('README.md', await readme(await readFile('README.md', 'utf8'), declarations));
  await writeFile('docs/drivers.md', await driversPage(declarations));
  console.log(`drivers listed from their declarations: ${folders.join(', ')}`);
}
