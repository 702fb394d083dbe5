// examples/microservices runs as a user runs it, with one command: a user posted to the users
// service reaches the directory service, another process, through the gateway client and is
// stored in its JSON file; both services stop cleanly. Nothing here waits on time, only on lines.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { runExample } from '../support/example-process.js';

it('examples/microservices: a user created over HTTP is stored by the directory service in another process', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-microservices-'));
  const { child: launcher, lines, line, exited } = runExample('examples/microservices/main.ts', { cwd: dir, env: { PORT: '0' } });
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
    const code = await exited;
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(lines.includes('users: stopped') && lines.includes('directory: stopped'), lines.join('\n'));
  } finally {
    if (launcher.exitCode === null) launcher.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
