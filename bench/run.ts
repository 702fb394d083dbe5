// `npm run bench -- <name...>`: runs bench/<name>.ts for each name (all when none given).
// Benchmarks are not tests: run them on a quiet machine, apart from `npm test`.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && !['run.ts', 'measure.ts'].includes(file))
  .map((file) => file.slice(0, -3));
const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : available) {
  if (!available.includes(name)) {
    console.error(`unknown benchmark '${name}'; available: ${available.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n## ${name}`);
  const bench = (await import(`./${name}.ts`)) as { default: () => Promise<void> };
  await bench.default();
}
