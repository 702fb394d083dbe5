// The package's shape: every subpath export points at a source file, and the layers of
// DESIGN.md hold (core imports no driver; a driver imports only core).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, { default: string } | string> };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

describe('package', () => {
  it('every subpath export has a source file', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      const source = target.default.replace('./dist/', 'src/').replace(/\.js$/, '.ts');
      assert.ok(existsSync(source), `export '${subpath}' points at ${target.default}, but ${source} does not exist`);
    }
  });

  it('each subpath export names what it exports, one by one (no export * of internals)', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      const source = target.default.replace('./dist/', 'src/').replace(/\.js$/, '.ts');
      assert.doesNotMatch(readFileSync(source, 'utf8'), /^export \* from/m, `'${subpath}' (${source}) re-exports a whole module`);
    }
  });

  it("the outbox uses the postgres driver only through its public surface, omnibus/drivers/postgres", () => {
    for (const file of files('src/outbox')) {
      for (const specifier of imports(file)) {
        if (specifier.includes('drivers/')) assert.equal(specifier, '../drivers/postgres/index.js', `${file} imports ${specifier}`);
      }
    }
  });

  it('core imports no driver, service or config module', () => {
    for (const file of files('src/core')) {
      for (const specifier of imports(file)) {
        assert.ok(!specifier.startsWith('../'), `${file} imports ${specifier} from outside core`);
      }
    }
  });

  it('a driver imports only core, the driver kit, node built-ins and its broker client', () => {
    for (const file of files('src/drivers')) {
      for (const specifier of imports(file)) {
        if (!specifier.startsWith('.')) continue;
        const resolved = join(file, '..', specifier);
        assert.ok(
          resolved.startsWith('src/core') || resolved.startsWith('src/driver-kit') || resolved.startsWith('src/drivers'),
          `${file} imports ${specifier}, outside core and the driver kit`,
        );
      }
    }
  });

  it('the driver kit imports only core (and zod with the Standard Schema types), nothing from Node', () => {
    for (const file of files('src/driver-kit')) {
      for (const specifier of imports(file)) {
        const allowed = specifier.startsWith('../core/') || (specifier.startsWith('./') && !specifier.includes('..')) || ['@standard-schema/spec', 'zod'].includes(specifier);
        assert.ok(allowed, `${file} imports ${specifier}`);
      }
    }
  });
});
