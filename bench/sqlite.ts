// The embedded SQLite driver beside raw better-sqlite3 doing the same work in the same run,
// on the same kind of file (WAL, synchronous FULL): the raw table has the same columns, seq
// and unique id as the driver's log. 100-byte payloads throughout. Also `publishMany` of JSON
// objects beside the plain table a user would write instead (uuid, topic, JSON, time; no
// index), both at synchronous NORMAL as that user would run it.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Bus } from '../src/core/bus.js';
import { sqlite } from '../src/drivers/sqlite/index.js';
import { interleaved, percentile, printTable, rate, type Row } from './measure.js';

const COUNT = 20_000;
const BATCH = 100;
const CONCURRENT = 100;
const LATENCY_RATE = 10_000;
const LATENCY_SECONDS = 3;
/** Rows per call and per transaction in the plain-table comparison. */
const PLAIN_BATCH = 1_000;
/** A 100-byte JSON object. */
const order = () => ({ id: 'order-000001', customer: 'customer-42', total: 1234.5, note: 'x'.repeat(38) });

/** What a user writes without a bus: one plain table, a transaction per batch. */
function plainDatabase(file: string) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE events (id TEXT NOT NULL, topic TEXT NOT NULL, body TEXT NOT NULL, time INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO events (id, topic, body, time) VALUES (?, ?, ?, ?)');
  const insertMany = db.transaction((items: object[]) => {
    for (const item of items) insert.run(randomUUID(), 'bench.orders', JSON.stringify(item), Date.now());
  });
  return { db, insertMany };
}

function payload(): Uint8Array {
  const bytes = new Uint8Array(100);
  new DataView(bytes.buffer).setFloat64(0, performance.now());
  return bytes;
}
const sentAt = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(0);

function rawDatabase(file: string) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE raw (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
    key TEXT, headers TEXT NOT NULL, time INTEGER NOT NULL, expires INTEGER, body BLOB NOT NULL);
    CREATE TABLE raw_leases (seq INTEGER PRIMARY KEY, attempt INTEGER NOT NULL, deadline INTEGER NOT NULL);`);
  let next = 0;
  const insert = db.prepare('INSERT INTO raw (id, topic, key, headers, time, expires, body) VALUES (?, ?, NULL, ?, ?, NULL, ?)');
  const insertBatch = db.transaction((count: number) => {
    for (let i = 0; i < count; i++) {
      insert.run(`raw-${next++}`, 'bench.raw', '{"content-type":"application/octet-stream"}', Date.now(), payload());
    }
  });
  // What one group does per batch without the driver: read rows, lease them, then delete the leases.
  const read = db.prepare('SELECT * FROM raw WHERE seq > ? ORDER BY seq LIMIT ?');
  const lease = db.prepare('INSERT INTO raw_leases (seq, attempt, deadline) VALUES (?, 1, ?)');
  const unlease = db.prepare('DELETE FROM raw_leases WHERE seq = ?');
  const claim = db.transaction((after: number, count: number) => {
    const rows = read.all(after, count) as Array<{ seq: number }>;
    for (const row of rows) lease.run(row.seq, Date.now() + 30_000);
    return rows;
  });
  const ack = db.transaction((seqs: number[]) => {
    for (const seq of seqs) unlease.run(seq);
  });
  return { db, insertBatch, claim, ack };
}

export default async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-bench-sqlite-'));
  const raw = rawDatabase(join(dir, 'raw.db'));
  const bus = new Bus({ drivers: { sqlite: sqlite({ path: join(dir, 'omnibus.db') }) } });
  const plain = plainDatabase(join(dir, 'plain.db'));
  const normalBus = new Bus({ drivers: { sqlite: sqlite({ path: join(dir, 'normal.db'), synchronous: 'normal' }) } });
  const rows: Row[] = [];
  try {
    await bus.publish('bench.warm', payload());
    await normalBus.publish('bench.warm', order());
    const plainRun = await interleaved(3, {
      plain: () => rate(COUNT * 2, async () => {
        for (let i = 0; i < COUNT * 2; i += PLAIN_BATCH) plain.insertMany(Array.from({ length: PLAIN_BATCH }, order));
      }),
      omnibus: () => rate(COUNT * 2, async () => {
        for (let i = 0; i < COUNT * 2; i += PLAIN_BATCH) {
          await normalBus.publishMany(Array.from({ length: PLAIN_BATCH }, () => ({ topic: 'bench.orders', data: order() })));
        }
      }),
    });
    rows.push({
      scenario: `publishMany of JSON objects, ${PLAIN_BATCH} per call, synchronous NORMAL`,
      omnibus: plainRun.omnibus,
      baseline: plainRun.plain,
      baselineName: `plain table insert x${PLAIN_BATCH}/txn`,
      unit: 'msg/s',
      payloadBytes: JSON.stringify(order()).length,
    });
    // 1. publishMany, batches of 100, and 2. awaited single publishes from 100 concurrent
    // tasks (group commit batches them), both beside raw inserts of 100 per transaction.
    const publish = await interleaved(3, {
      raw: () => rate(COUNT, async () => {
        for (let i = 0; i < COUNT; i += BATCH) raw.insertBatch(BATCH);
      }),
      batched: () => rate(COUNT, async () => {
        for (let i = 0; i < COUNT; i += BATCH) {
          await bus.publishMany(Array.from({ length: BATCH }, () => ({ topic: 'bench.publish', data: payload() })));
        }
      }),
      concurrent: () => rate(COUNT, async () => {
        let next = 0;
        const task = async () => {
          while (next++ < COUNT) await bus.publish('bench.single', payload());
        };
        await Promise.all(Array.from({ length: CONCURRENT }, task));
      }),
    });
    rows.push({ scenario: 'publishMany (batches of 100)', omnibus: publish.batched, baseline: publish.raw, baselineName: 'raw insert x100/txn', unit: 'msg/s' });
    rows.push({ scenario: 'publish, 100 concurrent awaited tasks', omnibus: publish.concurrent, baseline: publish.raw, baselineName: 'raw insert x100/txn', unit: 'msg/s' });

    // 3. Consume + ack, one group, over a backlog (each run a new group from the start).
    for (let i = 0; i < COUNT; i += BATCH) {
      await bus.publishMany(Array.from({ length: BATCH }, () => ({ topic: 'bench.consume', data: payload() })));
    }
    const groupConsume = (concurrency: number) => (round: number) =>
      rate(COUNT, async () => {
        let handled = 0;
        let done: () => void = () => {};
        const finished = new Promise<void>((resolve) => (done = resolve));
        const subscription = await bus.subscribe('bench.consume', () => {
          if (++handled === COUNT) done();
        }, { group: `c${concurrency}-${round}`, from: 'earliest', concurrency });
        await finished;
        await subscription.close();
      });
    const consume = await interleaved(3, {
      raw: () => rate(COUNT, async () => {
        let after = 0;
        let seen = 0;
        while (seen < COUNT) {
          const claimed = raw.claim(after, BATCH);
          raw.ack(claimed.map((row) => row.seq));
          seen += claimed.length;
          after = claimed[claimed.length - 1].seq;
        }
      }),
      one: groupConsume(1),
      many: groupConsume(64),
    });
    for (const [concurrency, figure] of [[1, consume.one], [64, consume.many]]) {
      rows.push({
        scenario: `consume + ack, one group, concurrency ${concurrency}`,
        omnibus: figure,
        baseline: consume.raw,
        baselineName: 'raw read+lease+delete x100/txn',
        unit: 'msg/s',
      });
    }

    // 4. Publish-to-handler latency at 10,000 msg/s (one plain subscriber, one group).
    const rawCommits: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const start = performance.now();
      raw.insertBatch(1);
      rawCommits.push(performance.now() - start);
    }
    rawCommits.sort((a, b) => a - b);
    for (const group of [undefined, 'latency']) {
      const samples = await latency(bus, group);
      const label = group === undefined ? 'subscriber' : 'group';
      for (const p of [50, 99]) {
        rows.push({
          scenario: `publish-to-handler p${p} at 10k msg/s, ${label}`,
          omnibus: percentile(samples, p),
          baseline: percentile(rawCommits, p),
          baselineName: 'raw 1-row commit',
          unit: 'ms',
        });
      }
    }
  } finally {
    await bus.close();
    await normalBus.close();
    raw.db.close();
    plain.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(rows);
}

/** Publishes at LATENCY_RATE for LATENCY_SECONDS, each message on its own, and returns sorted latencies. */
async function latency(bus: Bus, group: string | undefined): Promise<number[]> {
  const samples: number[] = [];
  const topic = `bench.latency.${group ?? 'all'}`;
  const subscription = await bus.subscribe(topic, (message) => void samples.push(performance.now() - sentAt(message.data as Uint8Array)), {
    group,
  });
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const start = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * LATENCY_RATE));
    for (; sent < due; sent++) pending.push(bus.publish(topic, payload()));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  const deadline = Date.now() + 10_000;
  while (samples.length < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await subscription.close();
  return samples.sort((a, b) => a - b);
}

