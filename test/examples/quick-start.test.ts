// The README's quick start runs as written: its code block is examples/quick-start.ts, which
// runs to the end (exit code 0) and prints what its comments promise.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { it } from 'node:test';

const run = promisify(execFile);

it('the README quick start is examples/quick-start.ts, and it runs to the end', async () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /## Quick start\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.equal(block, readFileSync('examples/quick-start.ts', 'utf8'), 'the README shows the example file exactly');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/quick-start.ts'], { timeout: 30_000 });
  const lines = stdout.trim().split('\n');
  // Both subscriptions get o-1 in the publish's turn; which of the two runs first is not promised.
  assert.deepEqual(lines.slice(0, 2).sort(), ["charged o-1: 25", "orders.placed { id: 'o-1', total: 25 }"]);
  assert.deepEqual(lines.slice(2), ['refused: ValidationError', "audited { id: 'o-1', total: 25 }"]);
});
