// Several processes on one database file: what one publishes reaches subscribers in
// another within milliseconds, a group spread over processes gets each message once, and
// one id published by several processes at once is stored once.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { Bus } from '../../src/core/bus.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { percentile } from '../../bench/measure.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { startWorker, type Worker } from './sqlite-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-processes-'));
const workers: Worker[] = [];
after(async () => {
  await Promise.all(workers.map((worker) => worker.kill()));
  rmSync(dir, { recursive: true, force: true });
});

function deliveries(worker: Worker): Array<{ id: string; attempt: number; at: number }> {
  return worker.lines
    .filter((line) => line.startsWith('D '))
    .map((line) => {
      const [, id, attempt, at] = line.split(' ');
      return { id, attempt: Number(attempt), at: Number(at) };
    });
}

test('a subscriber in another process receives each message within a few milliseconds', async () => {
  const file = join(dir, 'wake.db');
  const bus = new Bus({ drivers: { sqlite: sqlite({ path: file }) } });
  await bus.publish('wake.warm', 0);
  const worker = startWorker('subscribe', file, 'wake.>');
  workers.push(worker);
  await worker.ready;
  const sent = new Map<string, number>();
  const count = 100;
  for (let n = 0; n < count; n++) {
    const { id } = await bus.publish('wake.ping', n);
    sent.set(id, Date.now());
    // Spaced out, so each message needs its own wake-up rather than riding on a batch.
    await sleep(5);
  }
  await eventually(() => deliveries(worker).length === count, `${count} deliveries in the other process`);
  const latencies = deliveries(worker)
    .map(({ id, at }) => at - sent.get(id)!)
    .sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(`# cross-process publish-to-handler: p50 ${p50} ms, p99 ${p99} ms, max ${latencies.at(-1)} ms`);
  assert.ok(p50 <= 10, `median cross-process wake-up ${p50} ms`);
  assert.ok(p99 <= 60, `p99 cross-process wake-up ${p99} ms`);
  await bus.close();
  await worker.kill();
});

test('a group split across processes (and this one) gets each message exactly once', async () => {
  const file = join(dir, 'split.db');
  const bus = new Bus({ drivers: { sqlite: sqlite({ path: file }) } });
  try {
    await bus.publish('split.warm', 0);
    // Every member takes 1-2 ms a message, so none can keep up alone and each must take part.
    const others = [startWorker('subscribe', file, 'split.jobs', 'split', 'slow'), startWorker('subscribe', file, 'split.jobs', 'split', 'slow')];
    workers.push(...others);
    await Promise.all(others.map((worker) => worker.ready));
    const local: string[] = [];
    await bus.subscribe('split.jobs', async (message) => {
      local.push(message.id);
      await sleep(1);
    }, { group: 'split' });
    const ids: string[] = [];
    const count = 600;
    for (let n = 0; n < count; n += 60) {
      const results = await bus.publishMany(Array.from({ length: 60 }, (_, i) => ({ topic: 'split.jobs', data: n + i })));
      ids.push(...results.map((result) => result.id));
    }
    const all = () => [...local, ...others.flatMap((worker) => deliveries(worker).map((d) => d.id))];
    await eventually(() => new Set(all()).size === count, `all ${count} messages across the processes`);
    await sleep(300);
    const received = all();
    assert.equal(received.length, count, 'no message was delivered twice');
    assert.deepEqual(new Set(received), new Set(ids));
    const shares = [local.length, ...others.map((worker) => deliveries(worker).length)];
    console.log(`# group shares across 3 processes: ${shares.join(' / ')}`);
    for (const share of shares) assert.ok(share > 0, `every process took part (${shares.join(' / ')})`);
  } finally {
    // Closed whatever happened: an open bus would keep this test file's process alive.
    await bus.close();
  }
});

test('a member process that dies hands its unacked messages to the survivors at once', async () => {
  const file = join(dir, 'handover.db');
  const bus = new Bus({ drivers: { sqlite: sqlite({ path: file }) } });
  await bus.publish('handover.warm', 0);
  const doomed = startWorker('subscribe', file, 'handover.jobs', 'h', 'hold');
  workers.push(doomed);
  await doomed.ready;
  try {
    // The worker holds what it takes unacked: publish, let it take its window, kill it.
    const ids = (await bus.publishMany(Array.from({ length: 50 }, (_, n) => ({ topic: 'handover.jobs', data: n })))).map((r) => r.id);
    await eventually(() => deliveries(doomed).length >= 20, 'the worker to take messages');
    await sleep(50);
    await doomed.kill();
    const held = new Set(deliveries(doomed).map((d) => d.id));
    const seen = new Map<string, number>();
    const started = Date.now();
    await bus.subscribe('handover.jobs', (message) => void seen.set(message.id, message.attempt), { group: 'h' });
    await eventually(() => ids.every((id) => seen.has(id)), 'every message after the member died', 5_000);
    assert.ok(Date.now() - started < 3_000, 'redelivered long before the 30 s ack deadline');
    for (const [id, attempt] of seen) assert.equal(attempt, held.has(id) ? 2 : 1, `attempt of ${id}`);
  } finally {
    await bus.close();
  }
});

test('the same ids published by three processes at once are each stored once, under one seq', async () => {
  const file = join(dir, 'same-ids.db');
  const bus = new Bus({ drivers: { sqlite: sqlite({ path: file }) } });
  const count = 200;
  const others = [startWorker('same-ids', file, 'same', String(count)), startWorker('same-ids', file, 'same', String(count))];
  workers.push(...others);
  try {
    await Promise.all(others.map((worker) => worker.ready));
    await bus.publish('same.go', 'go');
    // Joined once both workers are publishing, so all three processes race.
    await eventually(() => others.every((worker) => worker.lines.some((line) => line.startsWith('S '))), 'both workers to start publishing');
    const local: string[] = [];
    // From the last id down, while the workers go up: they meet somewhere in the middle.
    for (let n = count - 10; n >= 0; n -= 10) {
      const items = Array.from({ length: 10 }, (_, i) => ({ topic: 'same.orders', data: process.pid, id: `same-${n + i}` }));
      for (const result of await bus.publishMany(items)) local.push(`S ${result.id} ${result.seq} ${result.duplicate === true ? 1 : 0}`);
      await sleep(2);
    }
    await eventually(() => others.every((worker) => worker.lines.includes('done')), 'both workers to finish publishing');
    const each = [local, ...others.map((worker) => worker.lines.filter((line) => line.startsWith('S ')))];
    console.log(`# ids stored by each of the 3 processes: ${each.map((lines) => lines.filter((line) => line.endsWith(' 0')).length).join(' / ')}`);
    const answers = each.flat().map((line) => line.split(' '));
    assert.equal(answers.length, 3 * count);
    const byId = new Map<string, { seqs: Set<string>; stored: number }>();
    for (const [, id, seq, duplicate] of answers) {
      const entry = byId.get(id) ?? { seqs: new Set(), stored: 0 };
      entry.seqs.add(seq);
      if (duplicate === '0') entry.stored++;
      byId.set(id, entry);
    }
    for (const [id, { seqs, stored }] of byId) {
      assert.equal(stored, 1, `${id} was stored by exactly one publisher`);
      assert.equal(seqs.size, 1, `every publisher of ${id} got the one seq`);
    }
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.prepare("SELECT count(*) FROM messages WHERE topic = 'same.orders'").pluck().get(), count);
      assert.equal(db.prepare("SELECT count(DISTINCT id) FROM messages WHERE topic = 'same.orders'").pluck().get(), count);
    } finally {
      db.close();
    }
  } finally {
    await bus.close();
  }
});
