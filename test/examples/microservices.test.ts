// examples/microservices runs as a user runs it, with one command: a user posted to the users
// service reaches the directory service, another process, through the gateway client and is
// stored in its JSON file; both services stop cleanly. Nothing here waits on time, only on lines.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { it } from 'node:test';

it('examples/microservices: a user created over HTTP is stored by the directory service in another process', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-microservices-'));
  const launcher = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'examples/microservices/main.ts')], {
    cwd: dir,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(launcher, 'close'); // after its output is all read, unlike 'exit'
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: launcher.stdout }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters.splice(0)) waiter();
  });
  /** The first line matching `pattern`, once the launcher printed it. */
  const line = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = lines.map((seen) => pattern.exec(seen)).find((found) => found !== null);
        if (match) resolve(match);
        else waiters.push(check);
      };
      check();
      exited.then(([code]) => reject(new Error(`the launcher exited (${code}) before printing ${pattern}:\n${lines.join('\n')}`)));
    });
  try {
    const [, url] = await line(/^users: listening on (http:\S+)$/);
    await line(/^directory: subscribed to user\.created/);

    const refused = await fetch(`${url}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Ada"}' });
    assert.equal(refused.status, 400);
    assert.match((await refused.json()).error.message, /email/, 'the error names the missing field');

    const created = await fetch(`${url}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada', email: 'ada@example.com' }) });
    assert.equal(created.status, 201);
    const user = await created.json();
    await line(new RegExp(`^directory: stored ${user.id} \\(Ada\\)$`));
    const directory = JSON.parse(await readFile(join(dir, 'directory.json'), 'utf8'));
    assert.deepEqual(directory, { [user.id]: { id: user.id, name: 'Ada', email: 'ada@example.com' } });

    launcher.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(lines.includes('users: stopped') && lines.includes('directory: stopped'), lines.join('\n'));
  } finally {
    if (launcher.exitCode === null) launcher.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
