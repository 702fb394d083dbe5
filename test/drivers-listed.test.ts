// A driver is its folder: src/drivers/<type>/ with entry.ts (its declaration) and index.ts (its
// subpath export). Everything that lists drivers is made from those (`npm run docs`); these
// cases fail, in both directions, when a list and the folders disagree, and when docs/drivers.md
// no longer says what the declarations do.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { declarations } from '../src/drivers/declarations.js';
import { declarationsModule, driverFolders, driversPage, withDrivers } from '../scripts/gen-drivers.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const regenerate = 'run `npm run docs` to regenerate it';

describe('the drivers, listed from their folders', () => {
  it('every folder of src/drivers is a driver with an entry and an index, named as its folder', () => {
    const folders = readdirSync('src/drivers', { withFileTypes: true }).filter((item) => item.isDirectory()).map((item) => item.name);
    for (const folder of folders) {
      assert.ok(existsSync(`src/drivers/${folder}/entry.ts`), `src/drivers/${folder}/ has no entry.ts declaring the driver`);
      assert.ok(existsSync(`src/drivers/${folder}/index.ts`), `src/drivers/${folder}/ has no index.ts for omnibus/drivers/${folder}`);
    }
    assert.deepEqual(declarations.map((d) => d.type).sort(), [...folders].sort(), 'each declaration is typed as its folder');
  });

  it('src/drivers/declarations.ts lists exactly the driver folders', () => {
    assert.equal(readFileSync('src/drivers/declarations.ts', 'utf8'), declarationsModule(driverFolders()), regenerate);
  });

  it("package.json exports each driver's subpath, and its peers as optional peer dependencies, and nothing more", () => {
    assert.deepEqual(pkg, withDrivers(pkg, declarations), regenerate);
    const exported = Object.keys(pkg.exports).filter((subpath) => subpath.startsWith('./drivers/'));
    assert.deepEqual(exported.sort(), declarations.map((d) => `./drivers/${d.type}`).sort());
  });

  it("docs/drivers.md shows every driver's capabilities and semantics as its declaration states them", async () => {
    // By line: a diff of two long strings alike up to inspect's cut-off would hide both the change and the hint.
    assert.deepEqual(readFileSync('docs/drivers.md', 'utf8').split('\n'), (await driversPage(declarations)).split('\n'), regenerate);
  });

  it('no two drivers claim one URL scheme', () => {
    const schemes = declarations.flatMap((d) => d.schemes);
    assert.equal(new Set(schemes).size, schemes.length, schemes.join(', '));
    for (const d of declarations) assert.ok(d.schemes.some((scheme) => d.example.startsWith(scheme)), `${d.type}'s example uses one of its schemes`);
  });
});
