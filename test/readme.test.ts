// The README's driver table and address list are made from the drivers' declarations; this
// keeps the committed README in step with them (`npm run docs` rewrites it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { loadDeclarations, readme } from '../scripts/gen-drivers.js';

it("the README's driver table and OMNIBUS_URL list match the drivers' declarations", async () => {
  const text = readFileSync('README.md', 'utf8');
  assert.equal(text, await readme(text, await loadDeclarations()), 'run `npm run docs` to regenerate them');
});
