// Every README code block marked `<!-- runs -->` on the line before its fence runs as written,
// from a file in the package (so `omnibus` imports resolve to the build, as for a user), and
// exits 0. Blocks without the mark are fragments.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MARK = /<!-- runs -->\n```ts\n([\s\S]*?)```/g;

/** The marked blocks, each with the heading it sits under. */
function snippets(text: string): Array<{ heading: string; code: string }> {
  return [...text.matchAll(MARK)].map((match) => {
    const before = text.slice(0, match.index);
    const heading = [...before.matchAll(/^#+ (.+)$/gm)].at(-1)?.[1] ?? 'the top';
    return { heading, code: match[1] };
  });
}

describe('README snippets', () => {
  const found = snippets(readFileSync('README.md', 'utf8'));

  it('marks some snippets to run', () => assert.ok(found.length > 0, 'no <!-- runs --> blocks in README.md'));

  for (const [index, { heading, code }] of found.entries()) {
    it(`the snippet ${index + 1} under "${heading}" runs`, async () => {
      const dir = mkdtempSync(join(process.cwd(), '.snippet-'));
      try {
        writeFileSync(join(dir, 'snippet.mts'), code);
        await run(process.execPath, ['--import', 'tsx', join(dir, 'snippet.mts')], { timeout: 60_000 });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        assert.fail(`README snippet under "${heading}" failed:\n${stderr || stdout || (error as Error).message}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
