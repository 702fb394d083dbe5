// examples/game-loop.ts runs as a user runs it: a watcher process on a SQLite file, and the
// game loop delivering in process and mirroring to that file. The loop's reader sees each
// level-up in the tick that wrote it, once, the watcher receives them all, and no delivery
// failed. Nothing here waits on time: only on lines and exits.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { it } from 'node:test';

const run = promisify(execFile);
const args = (...rest: string[]) => ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'examples/game-loop.ts'), ...rest];
const after = (lines: string[], prefix: string) => lines.filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));

it('examples/game-loop: the reader and a second process both get every level-up the loop wrote', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-game-loop-'));
  const env = { ...process.env, GAME_DB: join(dir, 'game.db') };
  const watcher = spawn(process.execPath, args('watch'), { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const exited = once(watcher, 'close'); // after its output is all read, unlike 'exit'
    const watched: string[] = [];
    const lines = createInterface({ input: watcher.stdout });
    const watching = new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        watched.push(line);
        if (line === 'watching') resolve();
      });
      exited.then(([code]) => reject(new Error(`the watcher exited (${code}) before it watched:\n${watched.join('\n')}`)));
    });
    await watching;

    const { stdout } = await run(process.execPath, args(), { cwd: dir, env, timeout: 30_000 });
    const game = stdout.trim().split('\n');
    const wrote = after(game, 'wrote ');
    assert.equal(wrote.length, 20, stdout);
    // Local-first: the frame drawn right after each write already has it, and the mirror's copy never comes back.
    const ticks = game.filter((line) => line.startsWith('wrote ') || line.startsWith('read '));
    assert.deepEqual(ticks, wrote.flatMap((line) => [`wrote ${line}`, `read ${line}`]), 'each level-up read in the tick that wrote it, once');
    assert.ok(game.includes('loop: read 20 of 20 level-ups'), stdout);

    const [code] = await exited; // the watcher leaves once it has every level-up the session ended with
    assert.equal(code, 0, watched.join('\n'));
    assert.deepEqual(after(watched, 'watcher: tick=').map((line) => `tick=${line}`).sort(), [...wrote].sort());
    assert.ok(watched.includes('watcher: got all 20 level-ups'), watched.join('\n'));
    assert.deepEqual([...after(game, 'failed: '), ...after(watched, 'failed: ')], [], 'no delivery failed');
  } finally {
    if (watcher.exitCode === null) watcher.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
