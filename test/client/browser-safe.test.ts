// `omnibus/client` runs in browsers: nothing it loads (its own files and the core modules
// they import) may import a Node module or use Node globals. The protocol module, which the
// gateway and the client share, is held to the same rule and may import only core.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { it } from 'node:test';

function imports(file: string, typesToo: boolean): string[] {
  const source = readFileSync(file, 'utf8');
  const pattern = typesToo ? /^\s*(?:import|export)\s+[^'"]*?from\s+['"]([^'"]+)['"]/gm : /^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm;
  return [...source.matchAll(pattern)].map((m) => m[1]);
}

/** Every file `entries` load at run time, each checked for Node modules and globals. */
function browserSafe(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = normalize(queue.shift()!);
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    assert.doesNotMatch(source, /\bBuffer\.|\bprocess\.|require\(/, `${file} uses a Node global`);
    for (const specifier of imports(file, false)) {
      assert.ok(specifier.startsWith('.'), `${file} imports '${specifier}', which a browser cannot load`);
      queue.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  }
  return seen;
}

const protocolFiles = readdirSync('src/protocol').filter((name) => name.endsWith('.ts')).map((name) => join('src/protocol', name));

it('the client and everything it imports at run time use no Node module or Node global', () => {
  const seen = browserSafe(['src/client/index.ts']);
  assert.ok(seen.has(normalize('src/core/topic.ts')));
  assert.ok(seen.has(normalize('src/protocol/payload.ts')), 'the client speaks the protocol module');
});

it('the protocol module uses no Node module or Node global, and imports only core and itself', () => {
  assert.ok(protocolFiles.length > 0);
  browserSafe(protocolFiles);
  for (const file of protocolFiles) {
    for (const specifier of imports(file, true)) {
      assert.ok(specifier.startsWith('./') || specifier.startsWith('../core/'), `${file} imports '${specifier}': the protocol sits below the services and above core`);
    }
  }
});

it('the dashboard page and everything it bundles use no Node module or Node global; it uses the gateway only for types', () => {
  const seen = browserSafe(['src/dashboard/app.ts']);
  assert.ok(seen.has(normalize('src/client/index.ts')), 'the dashboard talks to the gateway through omnibus/client');
  assert.ok(![...seen].some((file) => file.startsWith(normalize('src/gateway/'))), 'nothing of the gateway is bundled into the page');
});
