// `omnibus/client` runs in browsers: nothing it loads (its own files and the core modules
// they import) may import a Node module or use Node globals.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { it } from 'node:test';

function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
}

it('the client and everything it imports at run time use no Node module or Node global', () => {
  const seen = new Set<string>();
  const queue = ['src/client/index.ts'];
  while (queue.length > 0) {
    const file = normalize(queue.shift()!);
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    assert.doesNotMatch(source, /\bBuffer\.|\bprocess\.|require\(/, `${file} uses a Node global`);
    for (const specifier of runtimeImports(file)) {
      assert.ok(specifier.startsWith('.'), `${file} imports '${specifier}', which a browser cannot load`);
      queue.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  }
  assert.ok(seen.has(normalize('src/core/topic.ts')));
});
