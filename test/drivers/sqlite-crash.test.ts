// Crash safety with real processes: a worker publishing and consuming a group is killed
// with SIGKILL at random points, again and again, on one database file.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { Bus } from '../../src/core/bus.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { startWorker } from './sqlite-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ROUNDS = 24;

test('after SIGKILL at random points every resolved publish is stored once, acked messages stay acked and unacked ones come back', async () => {
  const file = join(dir, 'crash.db');
  const published = new Set<string>();
  const acked = new Set<string>();
  // Acks under way at a kill may or may not have committed: those may come back or not.
  const acking = new Set<string>();
  const lastAttempt = new Map<string, number>();
  const violations: string[] = [];
  let kills = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const worker = startWorker('crash', file, `r${round}`);
    // Some kills land while the worker is still opening the file, most while it is busy.
    const early = round % 4 === 3;
    if (!early) await worker.ready;
    await sleep(early ? Math.random() * 600 : 50 + Math.random() * 400);
    await worker.kill();
    kills++;
    for (const line of worker.lines) {
      const [kind, id, attempt] = line.split(' ');
      if (kind === 'P') published.add(id);
      else if (kind === 'K') acking.add(id);
      else if (kind === 'A') acked.add(id);
      else if (kind === 'D') {
        if (acked.has(id)) violations.push(`round ${round}: ${id} delivered again after its ack resolved`);
        const previous = lastAttempt.get(id) ?? 0;
        if (Number(attempt) <= previous) violations.push(`round ${round}: ${id} attempt ${attempt} after attempt ${previous}`);
        lastAttempt.set(id, Number(attempt));
      } else if (kind === 'E') violations.push(`round ${round}: worker error ${line}`);
    }
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('quick_check', { simple: true }), 'ok', `file intact after kill ${round}`);
      // One pass over the table: ids carry no index, and a query per id made this check
      // quadratic in what the rounds published.
      const stored = new Map<string, number>();
      for (const id of db.prepare('SELECT id FROM messages').pluck().iterate() as Iterable<string>) stored.set(id, (stored.get(id) ?? 0) + 1);
      for (const id of published) {
        if (stored.get(id) !== 1) violations.push(`round ${round}: resolved publish ${id} stored ${stored.get(id) ?? 0} times`);
      }
    } finally {
      db.close();
    }
  }
  assert.deepEqual(violations, []);
  assert.ok(published.size > 500, `the workers published (${published.size} resolved)`);
  assert.ok(acked.size > 100, `the workers acked (${acked.size})`);

  // Drain the group here: everything not acked comes back, nothing acked does. Retention
  // (interrupted by the kills) still trims the side topic and never touched the main one.
  const bus = new Bus({
    drivers: { sqlite: sqlite({ path: file, retention: [{ topics: 'crash.noise', maxMessages: 100 }], retentionIntervalMs: 20 }) },
  });
  const again = new Map<string, number>();
  await bus.subscribe('crash.events', (message) => void again.set(message.id, message.attempt), {
    group: 'crash',
    concurrency: 32,
  });
  const expected = [...published].filter((id) => !acking.has(id));
  await eventually(() => expected.every((id) => again.has(id)), `${expected.length} unacked messages redelivered`, 20_000).catch(
    (error) => {
      const missing = expected.filter((id) => !again.has(id));
      throw new Error(`${error.message}; ${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
    },
  );
  await sleep(300);
  await bus.close();
  const db = new Database(file, { readonly: true });
  const noise = db.prepare("SELECT count(*) FROM messages WHERE topic = 'crash.noise'").pluck().get() as number;
  const counted = db.prepare("SELECT messages FROM topics WHERE topic = 'crash.noise'").pluck().get() as number;
  db.close();
  assert.ok(noise <= 100, `retention kept the side topic at ${noise} messages`);
  assert.equal(counted, noise, 'the topic counts stayed in step with the rows through every kill');
  const back = [...again.keys()].filter((id) => acked.has(id));
  assert.deepEqual(back, [], 'no acked message was delivered again');
  for (const [id, attempt] of again) {
    const before = lastAttempt.get(id);
    if (before !== undefined) assert.ok(attempt > before, `${id}: attempt ${attempt} follows ${before}`);
  }
  console.log(
    `# ${kills} kills: ${published.size} publishes resolved, ${acked.size} acks resolved, ` +
      `${expected.length} unacked redelivered (${[...again.values()].filter((a) => a > 1).length} with attempt > 1)`,
  );
});
