// What the sqlite driver promises beyond the shared contract: the file's schema and mode,
// group commit, TTL and retention, de-duplication and attempts across restarts.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import type { WireMessage } from '../../src/core/driver.js';
import type { Message } from '../../src/core/message.js';
import { sqlite, type SqliteOptions } from '../../src/drivers/sqlite/index.js';
import { MessageLog } from '../../src/drivers/sqlite/message-log.js';
import { eventually, sleep } from '../../src/testing/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(dir, `test-${files++}.db`);

function busOn(options: SqliteOptions): Bus {
  return new Bus({ drivers: { sqlite: sqlite(options) } });
}

function count(file: string, sql: string, ...params: unknown[]): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).pluck().get(...params) as number;
  } finally {
    db.close();
  }
}

describe('sqlite driver', () => {
  it('keeps its log in WAL mode in the documented tables, readable with the sqlite3 CLI', async () => {
    const file = freshFile();
    const bus = busOn({ path: file });
    await bus.publish('docs.example', { hello: 'world' }, { key: 'k1' });
    await bus.close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['dedupe', 'delayed', 'groups', 'leases', 'messages', 'omnibus_meta', 'owners', 'topics']);
    } finally {
      db.close();
    }
    const cli = spawnSync('sqlite3', [file, 'SELECT seq, topic, key, headers, CAST(body AS TEXT) FROM messages'], {
      encoding: 'utf8',
    });
    if (cli.error !== undefined) return; // no sqlite3 CLI on this machine
    // `{}`: the JSON content type alone, as nearly every message has it (docs/sqlite.md).
    assert.equal(cli.stdout.trim(), '1|docs.example|k1|{}|{"hello":"world"}');
  });

  it('stores the JSON content type alone as {} and no headers as { }, each read back as it was', async () => {
    const file = freshFile();
    const driver = sqlite({ path: file });
    const message = (id: string, headers: Record<string, string>): WireMessage => ({ id, topic: 'headers.kept', headers, time: Date.now(), body: Buffer.from('1') });
    await driver.publish([message('none', {}), message('json', { 'content-type': 'application/json' }), message('more', { 'content-type': 'application/json', 'x-a': 'b' })]);
    const read: WireMessage[] = [];
    for await (const wire of driver.read({ pattern: 'headers.kept', from: 'earliest' })) read.push(wire);
    assert.deepEqual(read.map((wire) => wire.headers), [{}, { 'content-type': 'application/json' }, { 'content-type': 'application/json', 'x-a': 'b' }]);
    await driver.close();
    const db = new Database(file, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT headers FROM messages ORDER BY seq').pluck().all(), ['{ }', '{}', '{"content-type":"application/json","x-a":"b"}']);
    } finally {
      db.close();
    }
  });

  it('gives every message one global seq, increasing in publish order across topics', async () => {
    const bus = busOn({ path: freshFile() });
    const seqs: number[] = [];
    for (const topic of ['a.one', 'b.two', 'a.one', 'c.three']) seqs.push(Number((await bus.publish(topic, 1)).seq));
    const many = await bus.publishMany([{ topic: 'b.two', data: 1 }, { topic: 'a.one', data: 2 }]);
    seqs.push(...many.map((result) => Number(result.seq)));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
    await bus.close();
  });

  it('commits publishes that arrive together in one transaction, and resolves them after it', async () => {
    const file = freshFile();
    const db = new Database(file);
    let commits = 0;
    const transaction = db.transaction.bind(db);
    // Counts the driver's write transactions; the database underneath is the real file.
    db.transaction = ((fn: (...args: unknown[]) => unknown) => {
      const inner = transaction(fn);
      return Object.assign((...args: unknown[]) => inner(...args), {
        immediate: (...args: unknown[]) => {
          commits++;
          return inner.immediate(...args);
        },
      });
    }) as typeof db.transaction;
    const driver = sqlite({ database: db });
    await driver.ready();
    const bus = new Bus({ drivers: { sqlite: driver } });
    const before = commits;
    const results = await Promise.all(Array.from({ length: 100 }, (_, n) => bus.publish('group.commit', n)));
    assert.ok(commits - before <= 2, `100 concurrent publishes took ${commits - before} transactions`);
    // Resolved means committed: another connection sees every message.
    const other = new Database(file, { readonly: true });
    assert.equal(other.prepare("SELECT count(*) FROM messages WHERE topic = 'group.commit'").pluck().get(), 100);
    assert.equal(new Set(results.map((result) => result.seq)).size, 100);
    other.close();
    await bus.close();
    assert.ok(db.open, 'a database the user passed in stays open');
    db.close();
  });

  it('never delivers a message past its ttlMs and removes it from the file', async () => {
    const file = freshFile();
    const bus = busOn({ path: file, retentionIntervalMs: 50 });
    await bus.publish('ttl.short', 'gone', { ttlMs: 30 });
    await bus.publish('ttl.short', 'kept');
    await sleep(60);
    const received: unknown[] = [];
    await bus.subscribe('ttl.short', (message) => void received.push(message.data), { from: 'earliest' });
    await eventually(() => received.length === 1, 'the message without ttl');
    await eventually(() => count(file, "SELECT count(*) FROM messages WHERE topic = 'ttl.short'") === 1, 'the expired row deleted');
    await sleep(50);
    assert.deepEqual(received, ['kept']);
    await bus.close();
  });

  it('enforces retention by count, bytes and age per topic pattern, oldest first, leaving other topics alone', async () => {
    const file = freshFile();
    const bus = busOn({
      path: file,
      retentionIntervalMs: 50,
      retention: [
        { topics: 'metrics.>', maxMessages: 10 },
        { topics: 'logs.*', maxBytes: 3_000 },
        { topics: 'old.>', maxAgeMs: 200 },
      ],
    });
    await bus.publish('old.news', 'stale');
    for (let n = 0; n < 50; n++) {
      await bus.publishMany([
        { topic: n % 2 ? 'metrics.cpu' : 'metrics.disk.io', data: n },
        { topic: 'logs.app', data: { n, line: 'x'.repeat(60) } },
        { topic: 'keep.all', data: n },
      ]);
    }
    const rows = (topicLike: string) => count(file, 'SELECT count(*) FROM messages WHERE topic LIKE ?', topicLike);
    await eventually(() => rows('metrics.%') === 10 && rows('old.%') === 0, 'retention to catch up', 5_000);
    const bytes = count(file, "SELECT sum(length(body) + length(headers)) FROM messages WHERE topic LIKE 'logs.%'");
    assert.ok(bytes <= 3_000 && bytes > 2_500, `logs keep at most 3,000 bytes (${bytes})`);
    assert.equal(rows('keep.%'), 50);
    const kept: number[] = [];
    await bus.subscribe('metrics.>', (message) => void kept.push(message.data as number), { from: 'earliest' });
    await eventually(() => kept.length === 10, 'the newest metrics');
    assert.deepEqual(kept, [40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    await bus.close();
  });

  it('keeps publishes flowing while retention deletes a large backlog', async () => {
    const file = freshFile();
    const seeding = busOn({ path: file });
    for (let n = 0; n < 20; n++) {
      await seeding.publishMany(Array.from({ length: 1_000 }, (_, i) => ({ topic: 'bulk.rows', data: { n, i } })));
    }
    await seeding.close();
    const bus = busOn({ path: file, retentionIntervalMs: 10, retention: [{ topics: 'bulk.>', maxMessages: 100 }] });
    let slowest = 0;
    const deadline = Date.now() + 5_000;
    while (count(file, 'SELECT count(*) FROM messages') > 200 && Date.now() < deadline) {
      const start = performance.now();
      await bus.publish('live.rows', 1);
      slowest = Math.max(slowest, performance.now() - start);
    }
    assert.ok(count(file, "SELECT count(*) FROM messages WHERE topic = 'bulk.rows'") <= 200, 'the backlog was trimmed');
    console.log(`# slowest publish during the clean-up: ${slowest.toFixed(1)} ms`);
    assert.ok(slowest < 100, `the slowest publish during the clean-up took ${slowest.toFixed(1)} ms`);
    await bus.close();
  });

  it('stores an id once across restarts within the dedupe window and returns the stored seq for the duplicate', async () => {
    const file = freshFile();
    const first = busOn({ path: file });
    const original = await first.publish('dedupe.orders', 'first', { id: 'order-77' });
    await first.close();
    const second = busOn({ path: file });
    const again = await second.publish('dedupe.orders', 'second', { id: 'order-77' });
    const both = await second.publishMany([
      { topic: 'dedupe.orders', data: 'x', id: 'order-78' },
      { topic: 'dedupe.orders', data: 'y', id: 'order-78' },
    ]);
    assert.deepEqual(again, { id: 'order-77', seq: original.seq, duplicate: true });
    assert.equal(both[0].seq, both[1].seq);
    assert.equal(both[1].duplicate, true);
    assert.equal(count(file, "SELECT count(*) FROM messages WHERE topic = 'dedupe.orders'"), 2);
    assert.equal(count(file, "SELECT messages FROM topics WHERE topic = 'dedupe.orders'"), 2);
    await second.close();
  });

  it('counts attempts up across restarts of a group member', async () => {
    const file = freshFile();
    const attempts: number[] = [];
    for (let round = 0; round < 3; round++) {
      const bus = busOn({ path: file });
      if (round === 0) await bus.subscribe('attempts.job', () => {}, { group: 'workers', ack: 'manual' });
      if (round === 0) await bus.publish('attempts.job', 'work');
      const seen: Message[] = [];
      if (round > 0) await bus.subscribe('attempts.job', (message) => void seen.push(message), { group: 'workers', ack: 'manual' });
      else {
        await bus.close();
        continue;
      }
      await eventually(() => seen.length === 1, `delivery in round ${round}`);
      attempts.push(seen[0].attempt);
      // Closing without an ack: the next process gets it again, one attempt later.
      await bus.close();
    }
    assert.deepEqual(attempts, [2, 3]);
  });

  it('redelivers abandoned group messages past the ack deadline even when they fill the claim window', async () => {
    const bus = busOn({ path: freshFile(), claimBatch: 4 });
    const attempts = new Map<number, number[]>();
    await bus.subscribe('abandoned.jobs', (message) => {
      const seen = attempts.get(message.data as number) ?? [];
      seen.push(message.attempt);
      attempts.set(message.data as number, seen);
      // Acks only the second attempt: the first ones are abandoned, holding the whole window.
      if (message.attempt > 1) return message.ack();
    }, { group: 'g', ack: 'manual', ackDeadlineMs: 200 });
    try {
      await bus.publishMany(Array.from({ length: 8 }, (_, n) => ({ topic: 'abandoned.jobs', data: n })));
      const done = () => attempts.size === 8 && [...attempts.values()].every((seen) => seen.includes(2));
      await eventually(done, 'every message twice', 5_000);
      await sleep(500);
      for (const seen of attempts.values()) assert.deepEqual(seen, [1, 2]);
    } finally {
      await bus.close();
    }
  });

  it('extends a group lease with inProgress() so slow work is not redelivered', async () => {
    const bus = busOn({ path: freshFile() });
    const attempts: number[] = [];
    try {
      await bus.subscribe('slow.jobs', async (message) => {
        attempts.push(message.attempt);
        for (let i = 0; i < 5; i++) {
          await sleep(100);
          await message.inProgress();
        }
      }, { group: 'g', ackDeadlineMs: 200 });
      await bus.publish('slow.jobs', 'long');
      await eventually(() => attempts.length === 1, 'the delivery');
      await sleep(800);
      assert.deepEqual(attempts, [1]);
    } finally {
      await bus.close();
    }
  });

  it("starts a new group at its 'from' and resumes an existing one where it stopped", async () => {
    const file = freshFile();
    const bus = busOn({ path: file });
    for (let n = 0; n < 5; n++) await bus.publish('from.group', n);
    const seen: number[] = [];
    const first = await bus.subscribe('from.group', (message) => void seen.push(message.data as number), {
      group: 'g',
      from: { seq: '3' },
    });
    await eventually(() => seen.length === 3, 'from seq 3, inclusive');
    await first.close();
    await bus.publish('from.group', 5);
    await bus.subscribe('from.group', (message) => void seen.push(message.data as number), { group: 'g', from: 'earliest' });
    await eventually(() => seen.length === 4, 'the one message published meanwhile');
    await sleep(100);
    assert.deepEqual(seen, [2, 3, 4, 5]);
    await bus.close();
  });

  it('subscriptions that match nothing cost a publish nothing: caught-up readers share one read of the log', async () => {
    const bus = busOn({ path: freshFile() });
    const reads = { count: 0 };
    const read = MessageLog.prototype.read;
    MessageLog.prototype.read = function (this: MessageLog, ...args: Parameters<typeof read>) {
      reads.count++;
      return read.apply(this, args);
    };
    try {
      for (let n = 0; n < 1_000; n++) await bus.subscribe(`nothing.${n}.>`, () => {});
      const seen: number[] = [];
      await bus.subscribe('live.t', (message) => void seen.push(message.data as number));
      // A slow subscriber whose buffer fills reads on its own, then rejoins: it gets everything.
      const slow: number[] = [];
      await bus.subscribe('live.*', async (message) => {
        await sleep(1);
        slow.push(message.data as number);
      }, { bufferSize: 2 });
      // On an empty log each subscription caught up (and joined the shared read) as it subscribed.
      reads.count = 0;
      for (let n = 0; n < 20; n++) await bus.publish('live.t', n);
      await eventually(() => seen.length === 20 && slow.length === 20, 'the twenty messages at both live subscriptions');
      assert.deepEqual(seen, Array.from({ length: 20 }, (_, n) => n));
      assert.deepEqual(slow, seen);
      // One read per commit for everyone caught up, plus the slow reader's own: not one per subscription (20,040).
      assert.ok(reads.count < 100, `${reads.count} reads of the log for 20 publishes with 1,002 subscriptions`);
    } finally {
      MessageLog.prototype.read = read;
      await bus.close();
    }
  });

  it('is built from configuration by type and by sqlite: URL', async () => {
    const file = freshFile();
    const byUrl = await createDriver({ url: `sqlite://${file}?synchronous=normal` });
    const byType = await createDriver({ type: 'sqlite', path: file });
    assert.equal(byUrl.name, 'sqlite');
    const bus = new Bus({ drivers: { a: byUrl, b: byType }, routes: [{ topics: ['a.>'], driver: 'a' }, { topics: ['>'], driver: 'b' }] });
    await bus.publish('a.one', 1);
    await bus.publish('b.two', 2);
    await bus.close();
    assert.equal(count(file, 'SELECT count(*) FROM messages'), 2);
  });
});
