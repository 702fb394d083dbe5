// The sqlite driver's dedupe window: an id is remembered in the `dedupe` table for
// `dedupeWindowMs`, across restarts, then stored again; its rows are pruned by retention; and a
// version 1 file (messages.id UNIQUE, no dedupe table) is upgraded in place as it opens.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Bus } from '../../src/core/bus.js';
import { DEFAULT_DEDUPE_WINDOW_MS } from '../../src/core/driver.js';
import { sqlite, type SqliteOptions } from '../../src/drivers/sqlite/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-dedupe-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(dir, `dedupe-${files++}.db`);

function busOn(options: SqliteOptions): Bus {
  return new Bus({ drivers: { sqlite: sqlite(options) } });
}

function query<T>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Version 1's tables as it shipped (src/drivers/sqlite/schema.ts before the dedupe table), the delayed table included. */
const VERSION_1 = `
CREATE TABLE omnibus_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE messages (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  id      TEXT NOT NULL UNIQUE,
  topic   TEXT NOT NULL,
  key     TEXT,
  headers TEXT NOT NULL,
  time    INTEGER NOT NULL,
  expires INTEGER,
  body    BLOB NOT NULL
);
CREATE INDEX messages_topic ON messages (topic, seq);
CREATE INDEX messages_expires ON messages (expires) WHERE expires IS NOT NULL;
CREATE TABLE topics (topic TEXT PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE groups (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, pattern TEXT NOT NULL, position INTEGER NOT NULL, created INTEGER NOT NULL,
  UNIQUE (name, pattern)
);
CREATE TABLE leases (
  group_id INTEGER NOT NULL, seq INTEGER NOT NULL, attempt INTEGER NOT NULL, deadline INTEGER NOT NULL, owner TEXT,
  PRIMARY KEY (group_id, seq)
) WITHOUT ROWID;
CREATE INDEX leases_due ON leases (group_id, deadline);
CREATE TABLE owners (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, started INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE delayed (
  id TEXT NOT NULL UNIQUE, due INTEGER NOT NULL, topic TEXT NOT NULL, key TEXT, headers TEXT NOT NULL, ttl INTEGER, body BLOB NOT NULL
);
CREATE INDEX delayed_due ON delayed (due);
INSERT INTO omnibus_meta (key, value) VALUES ('format', 'omnibus'), ('schema_version', '1');
`;

describe('sqlite dedupe window', () => {
  it('declares the window: 2 minutes by default, or the dedupeWindowMs option', () => {
    assert.equal(sqlite({ path: freshFile() }).capabilities.dedupeWindowMs, DEFAULT_DEDUPE_WINDOW_MS);
    assert.equal(sqlite({ path: freshFile(), dedupeWindowMs: 500 }).capabilities.dedupeWindowMs, 500);
    assert.throws(() => sqlite({ dedupeWindowMs: 0 }), /"dedupeWindowMs" must be a positive number, not 0/);
  });

  it('answers a republished id as a duplicate within the window, across restarts, and stores it again after', async () => {
    const file = freshFile();
    const windowMs = 400;
    const first = busOn({ path: file, dedupeWindowMs: windowMs });
    const original = await first.publish('window.orders', 'first', { id: 'order-1' });
    const stored = Date.now();
    await first.close();
    const second = busOn({ path: file, dedupeWindowMs: windowMs });
    const again = await second.publish('window.orders', 'again', { id: 'order-1' });
    assert.deepEqual(again, { id: 'order-1', seq: original.seq, duplicate: true });
    // The window is what is tested: wait it out on the clock.
    await sleep(stored + windowMs + 50 - Date.now());
    const later = await second.publish('window.orders', 'later', { id: 'order-1' });
    assert.equal(later.duplicate, undefined);
    assert.ok(Number(later.seq) > Number(original.seq), `a new seq (${later.seq} after ${original.seq})`);
    const rows = query<{ seq: number; body: Buffer }>(file, "SELECT seq, body FROM messages WHERE id = 'order-1' ORDER BY seq");
    assert.deepEqual(rows.map((row) => JSON.parse(row.body.toString())), ['first', 'later']);
    assert.deepEqual(query(file, "SELECT seq FROM dedupe WHERE id = 'order-1'"), [{ seq: Number(later.seq) }]);
    await second.close();
  });

  it('stores one id twice in one batch once, and counts the topic once', async () => {
    const file = freshFile();
    const bus = busOn({ path: file });
    const [a, b, c] = await bus.publishMany([
      { topic: 'batch.orders', data: 'x', id: 'twice' },
      { topic: 'batch.orders', data: 'y', id: 'twice' },
      { topic: 'batch.orders', data: 'z', id: 'once' },
    ]);
    assert.equal(a.duplicate, undefined);
    assert.deepEqual(b, { id: 'twice', seq: a.seq, duplicate: true });
    assert.equal(c.duplicate, undefined);
    assert.deepEqual(query(file, "SELECT messages FROM topics WHERE topic = 'batch.orders'"), [{ messages: 2 }]);
    await bus.close();
  });

  it('prunes ids past their window with the retention sweep, keeping the messages', async () => {
    const file = freshFile();
    const items = Array.from({ length: 1_200 }, (_, n) => ({ topic: 'prune.orders', data: n, id: `prune-${n}` }));
    const unswept = busOn({ path: file, dedupeWindowMs: 100, retentionIntervalMs: 600_000 });
    await unswept.publishMany(items);
    await unswept.close();
    assert.deepEqual(query(file, 'SELECT count(*) AS n FROM dedupe'), [{ n: 1_200 }]);
    const driver = sqlite({ path: file, dedupeWindowMs: 100, retentionIntervalMs: 20 });
    const bus = new Bus({ drivers: { sqlite: driver } });
    await driver.ready();
    await eventually(() => query<{ n: number }>(file, 'SELECT count(*) AS n FROM dedupe')[0].n === 0, 'the dedupe rows to be pruned');
    assert.deepEqual(query(file, 'SELECT count(*) AS n FROM messages'), [{ n: 1_200 }]);
    await bus.close();
  });

  it('leaves ids it made up out of the window: only chosen ids are remembered', async () => {
    const file = freshFile();
    const bus = busOn({ path: file });
    const made = await bus.publishMany([
      { topic: 'made.orders', data: 1 },
      { topic: 'made.orders', data: 2 },
    ]);
    const chosen = await bus.publish('made.orders', 3, { id: 'chosen-1' });
    assert.deepEqual(query(file, 'SELECT id, seq FROM dedupe'), [{ id: 'chosen-1', seq: Number(chosen.seq) }]);
    // Documented: nothing can retry a publish with an id it learns only once stored, so a
    // made-up id published again by choice is a second message.
    const again = await bus.publish('made.orders', 4, { id: made[0].id });
    assert.equal(again.duplicate, undefined);
    assert.ok(Number(again.seq) > Number(chosen.seq));
    assert.deepEqual(query(file, 'SELECT count(*) AS n FROM messages WHERE id = ?', made[0].id), [{ n: 2 }]);
    await bus.close();
  });

  it('stores a batch mixing made-up and chosen ids in batch order, a chosen duplicate once', async () => {
    const file = freshFile();
    const bus = busOn({ path: file });
    // Runs of 70 made-up ids span several multi-row statements (64, 4, 2 rows).
    const items = Array.from({ length: 150 }, (_, n) => ({
      topic: n % 2 === 0 ? 'mixed.even' : 'mixed.odd',
      data: { n },
      ...(n === 70 || n === 141 ? { id: 'chosen-twice' } : {}),
      ...(n === 100 ? { key: 'k-100', ttlMs: 60_000 } : {}),
    }));
    const results = await bus.publishMany(items);
    assert.deepEqual(results[141], { id: 'chosen-twice', seq: results[70].seq, duplicate: true });
    const stored = results.filter((_, n) => n !== 141);
    assert.deepEqual(stored.map((result) => Number(result.seq)), Array.from({ length: 149 }, (_, n) => n + 1), 'one seq each, in batch order');
    const rows = query<{ seq: number; id: string; topic: string; key: string | null; headers: string; expires: number | null; time: number; body: Buffer }>(
      file,
      'SELECT seq, id, topic, key, headers, expires, time, body FROM messages ORDER BY seq',
    );
    assert.deepEqual(rows.map((row) => row.id), stored.map((result) => result.id));
    assert.deepEqual(rows.map((row) => JSON.parse(row.body.toString()).n), items.map((_, n) => n).filter((n) => n !== 141));
    assert.deepEqual(rows.map((row) => row.topic), items.filter((_, n) => n !== 141).map((item) => item.topic));
    assert.ok(rows.every((row) => row.headers === '{}'), 'the JSON content type alone is stored as {}');
    const keyed = rows.find((row) => row.key !== null)!;
    assert.deepEqual([keyed.key, keyed.expires! - keyed.time], ['k-100', 60_000]);
    assert.deepEqual(query(file, 'SELECT topic, messages FROM topics ORDER BY topic'), [
      { topic: 'mixed.even', messages: 75 },
      { topic: 'mixed.odd', messages: 74 },
    ]);
    await bus.close();
  });

  it('upgrades a version 1 file in place: messages and seqs kept, recent ids remembered, old ones free again', async () => {
    const file = freshFile();
    const now = Date.now();
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(VERSION_1);
    const insert = old.prepare("INSERT INTO messages (seq, id, topic, headers, time, body) VALUES (?, ?, 'legacy.orders', '{}', ?, ?)");
    insert.run(1, 'old-id', now - 3_600_000, Buffer.from('"old"'));
    insert.run(2, 'recent-id', now - 1_000, Buffer.from('"recent"'));
    insert.run(3, 'deleted-later', now - 500, Buffer.from('"gone"'));
    old.prepare("INSERT INTO topics (topic, messages, bytes) VALUES ('legacy.orders', 2, 30)").run();
    // Retention removed the newest message: its seq must never be handed out again.
    old.prepare('DELETE FROM messages WHERE seq = 3').run();
    old.close();

    const bus = busOn({ path: file });
    const seen: Array<{ seq?: string; data: unknown }> = [];
    await bus.subscribe('legacy.orders', (message) => void seen.push({ seq: message.seq, data: message.data }), { from: 'earliest' });
    await eventually(() => seen.length === 2, 'the two retained messages');
    assert.deepEqual(seen, [{ seq: '1', data: 'old' }, { seq: '2', data: 'recent' }]);
    const recent = await bus.publish('legacy.orders', 'recent again', { id: 'recent-id' });
    assert.deepEqual(recent, { id: 'recent-id', seq: '2', duplicate: true });
    const reused = await bus.publish('legacy.orders', 'old again', { id: 'old-id' });
    assert.deepEqual(reused, { id: 'old-id', seq: '4' }, 'stored again, after the highest seq version 1 handed out');
    await bus.close();

    assert.deepEqual(query(file, "SELECT value FROM omnibus_meta WHERE key = 'schema_version'"), [{ value: '2' }]);
    assert.deepEqual(query(file, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND name NOT LIKE 'sqlite_%' ORDER BY name"), [
      { name: 'messages_expires' },
      { name: 'messages_topic' },
    ]);
    assert.deepEqual(query(file, "SELECT name, seq FROM sqlite_sequence ORDER BY name"), [{ name: 'messages', seq: 4 }]);
    // A second open finds version 2 and changes nothing.
    const again = busOn({ path: file });
    assert.deepEqual(await again.publish('legacy.orders', 'once more', { id: 'old-id' }), { id: 'old-id', seq: '4', duplicate: true });
    await again.close();
  });
});
