// `npm run docs`: makes everything that lists the drivers from their declarations
// (src/drivers/<type>/entry.ts), so a new driver is its folder and nothing edited by hand:
// src/drivers/declarations.ts, package.json's exports and peer dependencies, and the README's
// driver table and address list. test/drivers-listed.test.ts fails when any of them drifts.

import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Driver } from '../src/core/driver.js';
import type { DriverDeclaration } from '../src/driver-kit/declaration.js';

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
  return { ...pkg, exports, peerDependencies, peerDependenciesMeta };
}

const yes = (value: boolean) => (value ? 'yes' : '—');

/** The README's driver table, with each driver's capabilities as a driver made with its table options reports them. */
export async function driverTable(declarations: DriverDeclaration[]): Promise<string> {
  const rows = [
    '| driver | import | persistent | groups | replay | dedupe | ordering | wildcards | ack deadline | max payload | needs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const declaration of declarations) {
    const make = (await declaration.load()) as (options: Record<string, unknown>) => Driver;
    const driver = make(declaration.tableOptions ?? {});
    const c = driver.capabilities;
    const max = Number.isFinite(c.maxPayloadBytes) ? `${Math.round(c.maxPayloadBytes / 1024)} KiB` : 'no limit';
    rows.push(
      `| ${declaration.type} | \`omnibus/drivers/${declaration.type}\` | ${yes(c.persistent)} | ${yes(c.groups)} | ${yes(c.replay)} | ${yes(c.dedupe)} | ${c.ordering} | ${c.nativeWildcards ? 'native' : 'filtered'} | ${yes(c.ackDeadline)} | ${max} | ${declaration.needs} |`,
    );
    await driver.close();
  }
  return rows.join('\n');
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
  console.log(`drivers listed from their declarations: ${folders.join(', ')}`);
}
