// The README's driver table is generated from the drivers' declared capabilities; this
// keeps the committed README in step with them (`npm run docs` rewrites it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { driverTable, withTable } from '../scripts/driver-table.js';

it("the README's driver table matches the drivers' declared capabilities", async () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.equal(readme, withTable(readme, await driverTable()), 'run `npm run docs` to regenerate the table');
});
