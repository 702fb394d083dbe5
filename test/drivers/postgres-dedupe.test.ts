// The postgres driver's dedupe window: ids remembered in the `dedupe` table for
// `dedupeWindowMs`, then stored again; the same ids from two buses at once stored once; expired
// rows pruned by retention; ids the bus made up left out but for a batch's marker, by which a
// retry after a lost reply finds its batch; and a schema at migration 2 (messages.id UNIQUE)
// upgraded by migration 3.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { Bus } from '../../src/core/index.js';
import { DEFAULT_DEDUPE_WINDOW_MS } from '../../src/core/driver.js';
import { migrate, postgres, type PostgresOptions } from '../../src/drivers/postgres/index.js';
import { migrations } from '../../src/drivers/postgres/schema.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { PG_URL as url, postgresSkip } from '../support/postgres.js';

const skip = await postgresSkip();
const schema = `pgdedupe_${process.pid}_${Date.now().toString(36)}`;
const admin = new pg.Pool({ connectionString: url, max: 2 });
admin.on('error', () => {});
const buses: Bus[] = [];
let topicCount = 0;
const topic = (name: string) => `t${topicCount++}.${name}`;

function bus(options: PostgresOptions = {}): Bus {
  const b = new Bus({ drivers: { postgres: postgres({ connectionString: url, schema, poolSize: 4, ...options }) } });
  buses.push(b);
  return b;
}

describe('postgres dedupe window', { skip }, () => {
  after(async () => {
    await Promise.all(buses.map((b) => b.close().catch(() => {})));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}_v2" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}_prune" CASCADE`);
    await admin.end();
  });

  it('declares the window: 2 minutes by default, or the dedupeWindowMs option', async () => {
    assert.equal(postgres({ schema }).capabilities.dedupeWindowMs, DEFAULT_DEDUPE_WINDOW_MS);
    assert.equal(postgres({ schema, dedupeWindowMs: 500 }).capabilities.dedupeWindowMs, 500);
    assert.throws(() => postgres({ schema, dedupeWindowMs: -1 }), /'dedupeWindowMs' must be a positive number, got -1/);
  });

  it('answers a republished id as a duplicate within the window, and stores it again after it, alone or in a batch', async () => {
    const windowMs = 400;
    const b = bus({ dedupeWindowMs: windowMs });
    const name = topic('window');
    const first = await b.publish(name, 'first', { id: `${name}-a` });
    const stored = Date.now();
    assert.deepEqual(await b.publish(name, 'again', { id: `${name}-a` }), { id: `${name}-a`, seq: first.seq, duplicate: true });
    // The window is what is tested: wait it out on the clock.
    await sleep(stored + windowMs + 50 - Date.now());
    const [later, fresh, repeat] = await b.publishMany([
      { topic: name, data: 'later', id: `${name}-a` },
      { topic: name, data: 'fresh', id: `${name}-b` },
      { topic: name, data: 'repeat', id: `${name}-a` },
    ]);
    assert.equal(later.duplicate, undefined, 'stored again once the window passed');
    assert.ok(Number(later.seq) > Number(first.seq));
    assert.equal(fresh.duplicate, undefined);
    assert.deepEqual(repeat, { id: `${name}-a`, seq: later.seq, duplicate: true });
    const { rows } = await admin.query(`SELECT id, convert_from(body, 'UTF8') AS body FROM "${schema}".messages WHERE topic = $1 ORDER BY seq`, [name]);
    assert.deepEqual(rows, [
      { id: `${name}-a`, body: '"first"' },
      { id: `${name}-a`, body: '"later"' },
      { id: `${name}-b`, body: '"fresh"' },
    ]);
  });

  it('stores the same ids published by two buses at once each once, and both answer with its seq', async () => {
    const [one, two] = [bus(), bus()];
    const name = topic('race');
    const count = 1_000;
    // One bus from the first id up, the other from the last down: they meet in the middle.
    const publishAll = async (b: Bus, reversed: boolean) => {
      const results = new Map<string, { seq?: string; duplicate?: true }>();
      for (let batch = 0; batch < count / 50; batch++) {
        const start = (reversed ? count / 50 - 1 - batch : batch) * 50;
        const items = Array.from({ length: 50 }, (_, i) => ({ topic: name, data: start + i, id: `${name}-${start + i}` }));
        for (const result of await b.publishMany(items)) results.set(result.id, result);
      }
      return results;
    };
    const [a, b] = await Promise.all([publishAll(one, false), publishAll(two, true)]);
    for (const [id, mine] of a) {
      const theirs = b.get(id)!;
      assert.equal(mine.seq, theirs.seq, `${id}: one seq for both publishers`);
      assert.equal([mine, theirs].filter((result) => result.duplicate === true).length, 1, `${id}: stored by exactly one`);
    }
    const storedBy = (results: typeof a) => [...results.values()].filter((result) => result.duplicate === undefined).length;
    console.log(`# ids stored by each bus: ${storedBy(a)} / ${storedBy(b)}`);
    const { rows } = await admin.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM "${schema}".messages WHERE topic = $1`, [name]);
    assert.deepEqual(rows, [{ n: count, ids: count }]);
  });

  it('forgets ids past their window when retention runs, and keeps the messages', async () => {
    // A schema of its own: a retention run of another bus on the shared one (each runs one a
    // second after it starts) would hold the retention lock, and this run would skip its turn.
    const own = `${schema}_prune`;
    const d = postgres({ connectionString: url, schema: own, poolSize: 2, dedupeWindowMs: 100 });
    const b = new Bus({ drivers: { postgres: d } });
    buses.push(b);
    const name = topic('prune');
    // Chosen ids: the window keeps those (of made-up ones, a batch's first only).
    const ids = (await b.publishMany(Array.from({ length: 20 }, (_, n) => ({ topic: name, data: n, id: `${name}-${n}` })))).map((result) => result.id);
    const remembered = async () => (await admin.query(`SELECT count(*)::int AS n FROM "${own}".dedupe WHERE id = ANY ($1)`, [ids])).rows[0].n;
    assert.equal(await remembered(), 20);
    await sleep(150);
    await d.applyRetention();
    assert.equal(await remembered(), 0);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${own}".messages WHERE topic = $1`, [name]);
    assert.equal(rows[0].n, 20);
  });

  it('moves a delayed message through the window: an id stored meanwhile is not stored twice', async () => {
    const b = bus();
    const name = topic('delayed');
    const seen: unknown[] = [];
    await b.subscribe(name, (message) => void seen.push(message.data));
    await b.publish(name, 'delayed', { id: `${name}-x`, delayMs: 300 });
    // Due after the first, so it moves with it or after it: its delivery says the first has moved.
    await b.publish(name, 'marker', { id: `${name}-marker`, delayMs: 310 });
    const now = await b.publish(name, 'now', { id: `${name}-x` });
    assert.equal(now.duplicate, undefined);
    await eventually(() => seen.includes('marker'), 'the delayed messages to move');
    const { rows } = await admin.query(`SELECT convert_from(body, 'UTF8') AS body FROM "${schema}".messages WHERE topic = $1 ORDER BY seq`, [name]);
    assert.deepEqual(rows, [{ body: '"now"' }, { body: '"marker"' }]);
    assert.deepEqual(seen, ['now', 'marker']);
  });

  it('upgrades a schema at migration 2: messages and seqs kept, recent ids remembered, old ones stored again', async () => {
    const old = `${schema}_v2`;
    // The layout as migration 2 left it, written by its publish() function.
    await migrate(admin, old, 'bus', migrations.slice(0, 2));
    const publishV2 = (id: string, time: number) =>
      admin.query(`SELECT message_seq::text AS seq FROM "${old}".publish($1, $2, $3, $4, $5, $6, $7, '')`, [
        [id], ['legacy.orders'], [null], ['{}'], [Buffer.from(JSON.stringify(id))], [time], [null],
      ]);
    const hourAgo = Date.now() - 3_600_000;
    const oldSeq = (await publishV2('old-id', hourAgo)).rows[0].seq;
    const recentSeq = (await publishV2('recent-id', Date.now())).rows[0].seq;
    await admin.query(`INSERT INTO "${old}".delayed (id, topic, headers, body, due_ms) VALUES ('waiting', 'legacy.orders', '{}', '"waiting"', $1)`, [Date.now()]);

    const b = new Bus({ drivers: { postgres: postgres({ connectionString: url, schema: old, poolSize: 2 }) } });
    buses.push(b);
    const seen: Array<[string | undefined, unknown]> = [];
    await b.subscribe('legacy.orders', (message) => void seen.push([message.seq, message.data]), { from: 'earliest' });
    const { rows: applied } = await admin.query(`SELECT version FROM "${old}".migrations ORDER BY version`);
    assert.deepEqual(applied.map((row) => row.version), [1, 2, 3]);
    // The message waiting in `delayed` at the upgrade moves through the new move_due().
    await eventually(() => seen.length === 3, 'the two stored messages and the one that was waiting');
    assert.deepEqual(seen.slice(0, 2), [[oldSeq, 'old-id'], [recentSeq, 'recent-id']]);
    assert.equal(seen[2][1], 'waiting');
    assert.deepEqual(await b.publish('legacy.orders', 'again', { id: 'recent-id' }), { id: 'recent-id', seq: recentSeq, duplicate: true });
    const reused = await b.publish('legacy.orders', 'reused', { id: 'old-id' });
    assert.equal(reused.duplicate, undefined, 'an id stored an hour ago is stored again');
    assert.ok(Number(reused.seq) > Number(seen[2][0]));
  });

  it("keeps the ids publishers chose and a batch's first made-up id, and a retry after a lost reply stores nothing twice", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {});
    // The server runs the fast statement, and its answer is lost on the way back, as when the connection drops then.
    let loseReplies = 0;
    let lostReplies = 0;
    const query = pool.query.bind(pool) as (statement: unknown) => Promise<unknown>;
    (pool as unknown as { query: (statement: { name?: string }) => Promise<unknown> }).query = async (statement) => {
      const answer = await query(statement);
      if (statement.name?.startsWith('omnibus-publish-fast') && loseReplies > 0) {
        loseReplies--;
        lostReplies++;
        throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      }
      return answer;
    };
    const b = new Bus({ drivers: { postgres: postgres({ pool, schema }) } });
    const name = topic('lost-reply');
    const batch = () => [
      { topic: name, data: 0, id: `${name}-chosen-0` },
      { topic: name, data: 1 },
      { topic: name, data: 2 },
      { topic: name, data: 3, id: `${name}-chosen-3` },
      { topic: name, data: 4 },
    ];
    const stored = async () =>
      (await admin.query(`SELECT id, seq::text AS seq, body FROM "${schema}".messages WHERE topic = $1 ORDER BY seq`, [name])).rows;
    const kept = async (ids: string[]) =>
      (await admin.query(`SELECT id FROM "${schema}".dedupe WHERE id = ANY ($1) ORDER BY seq`, [ids])).rows.map((row) => row.id);

    const plain = await b.publishMany(batch());
    assert.deepEqual(await kept(plain.map((result) => result.id)), [plain[0].id, plain[1].id, plain[3].id], 'the chosen ids and the marker');

    loseReplies = 1;
    const retried = await b.publishMany(batch().map((message) => ({ ...message, id: message.id && `${message.id}-again` })));
    assert.equal(lostReplies, 1);
    const rows = await stored();
    assert.equal(rows.length, 10, 'each message of both batches stored once');
    const seqOf = new Map(rows.map((row) => [row.id, row.seq]));
    for (const result of [...plain, ...retried]) {
      assert.equal(result.seq, seqOf.get(result.id), `${result.id} answered with its stored seq`);
      assert.equal(result.duplicate, undefined, `${result.id} is no duplicate of its own first attempt`);
    }
    assert.deepEqual(rows.slice(5).map((row) => JSON.parse(String(row.body))), [0, 1, 2, 3, 4], 'in batch order');

    // Every id made up: the marker alone is kept, and finds the rest.
    loseReplies = 1;
    const madeUp = await b.publishMany([0, 1, 2].map((data) => ({ topic: name, data })));
    assert.equal(lostReplies, 2);
    const all = await stored();
    assert.equal(all.length, 13);
    assert.deepEqual(madeUp.map((result) => result.seq), all.slice(10).map((row) => row.seq));
    assert.deepEqual(await kept(madeUp.map((result) => result.id)), [madeUp[0].id]);
    await b.close();
    await pool.end();
  });
});
