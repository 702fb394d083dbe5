import assert from 'node:assert/strict';
import { exec } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { Bus, ConfigurationError, ConnectionError, type Message } from '../../src/core/index.js';
import { createBusFromConfig } from '../../src/config/index.js';
import { postgres, withDefaultUser, type PostgresOptions } from '../../src/drivers/postgres.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { brokerSkip } from '../support/broker.js';

const run = promisify(exec);
const url = withDefaultUser(process.env.PG_URL ?? 'postgres://127.0.0.1:5432/test');
const CLUSTER = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main';
const skip = await brokerSkip({ name: 'PostgreSQL', url, start: `${CLUSTER} start` });
const schema = `pgtest_${process.pid}_${Date.now().toString(36)}`;
const admin = new pg.Pool({ connectionString: url, max: 2 });
admin.on('error', () => {});
const buses: Bus[] = [];
let topicCount = 0;

function driver(options: PostgresOptions = {}) {
  return postgres({ connectionString: url, schema, poolSize: 4, ...options });
}

function bus(options: PostgresOptions = {}): Bus {
  const d = driver(options);
  const b = new Bus({ drivers: { postgres: d }, logger: { error() {}, warn() {}, info() {}, debug() {} } as never });
  buses.push(b);
  return b;
}

const topic = (name: string) => `t${topicCount++}.${name}`;

/** Leaves the server running whatever happened, as every other suite needs it. */
async function ensureRunning(): Promise<void> {
  await run(`${CLUSTER} start`).catch(() => {});
  for (let i = 0; i < 50; i++) {
    try {
      await admin.query('SELECT 1');
      return;
    } catch {
      await sleep(200);
    }
  }
}

describe('postgres driver', { skip }, () => {
  after(async () => {
    await Promise.all(buses.map((b) => b.close().catch(() => {})));
    await ensureRunning();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('fails fast with a ConnectionError naming the address when nothing listens there', async () => {
    const started = Date.now();
    const d = postgres({ connectionString: 'postgres://127.0.0.1:5999/test', schema });
    await assert.rejects(d.connect(), (error: ConnectionError) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /127\.0\.0\.1:5999/);
      assert.match(error.message, /ECONNREFUSED/);
      assert.match(error.message, /server is running/);
      return true;
    });
    assert.ok(Date.now() - started < 2_000, 'failed within 2 s');
    await d.close();
  });

  it('fails fast with a ConnectionError naming the problem for an unknown role or database', async () => {
    const role = postgres({ connectionString: 'postgres://no_such_role@127.0.0.1:5432/test', schema });
    await assert.rejects(role.publish([{ id: 'x', topic: 'a', headers: {}, time: Date.now(), body: new Uint8Array() }]), (error: ConnectionError) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /role "no_such_role" does not exist/);
      assert.match(error.message, /check the user, password and database/);
      return true;
    });
    await role.close();
    const database = postgres({ connectionString: new URL('/no_such_db', url).toString(), schema });
    await assert.rejects(database.connect(), /database "no_such_db" does not exist/);
    await database.close();
  });

  it('creates versioned tables on start, once, and refuses an old schema when told not to migrate', async () => {
    const first = driver();
    const second = driver();
    await Promise.all([first.connect(), second.connect()]);
    const { rows } = await admin.query(`SELECT component, version, name FROM "${schema}".migrations ORDER BY version`);
    assert.deepEqual(rows, [{ component: 'bus', version: 1, name: 'log, groups, leases' }]);
    const tables = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema]);
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['groups', 'leases', 'messages', 'migrations']);
    await Promise.all([first.close(), second.close()]);
    const untouched = postgres({ connectionString: url, schema: `${schema}_empty`, migrate: false });
    await assert.rejects(untouched.connect(), (error) => error instanceof ConfigurationError && /migrate: true/.test(error.message));
    await untouched.close();
  });

  it('stores what was published in a table plain SQL can read, and returns the seq', async () => {
    const b = bus();
    const name = topic('sql');
    const result = await b.publish(name, { total: 5 }, { id: `${name}-1`, key: 'k', headers: { 'x-a': 'b' } });
    const { rows } = await admin.query(
      `SELECT seq::text, id, topic, key, headers, convert_from(body, 'UTF8') AS body FROM "${schema}".messages WHERE topic = $1`,
      [name],
    );
    assert.deepEqual(rows, [
      { seq: result.seq, id: `${name}-1`, topic: name, key: 'k', headers: { 'x-a': 'b', 'content-type': 'application/json' }, body: '{"total":5}' },
    ]);
  });

  it('stores a batch of mixed topics, headers and keys exactly, quotes and backslashes included', async () => {
    const b = bus();
    const [one, two] = [topic('mixed'), topic('mixed')];
    const odd = 'a "quoted", {braced} \\ NULL';
    const batch: Array<{ topic: string; data: number; id: string; key?: string; headers?: Record<string, string> }> = [
      { topic: one, data: 1, id: `${one}-${odd}`, key: odd, headers: { 'x-a': odd } },
      { topic: two, data: 2, id: `${one}-plain` },
      { topic: one, data: 3, id: `${one}-null`, key: 'NULL', headers: { 'x-a': odd } },
      { topic: two, data: 4, id: `${one}-empty`, key: '', headers: { 'x-b': '' } },
    ];
    const results = await b.publishMany(batch);
    const { rows } = await admin.query(
      `SELECT seq::text, id, topic, key, headers, convert_from(body, 'UTF8') AS body FROM "${schema}".messages
       WHERE topic IN ($1, $2) ORDER BY seq`,
      [one, two],
    );
    assert.deepEqual(rows, batch.map((message, i) => ({
      seq: results[i].seq,
      id: message.id,
      topic: message.topic,
      key: message.key ?? null,
      headers: { ...message.headers, 'content-type': 'application/json' },
      body: String(message.data),
    })));
  });

  it('stores an id once and answers a duplicate with the first seq', async () => {
    const b = bus();
    const name = topic('dedupe');
    const first = await b.publish(name, 1, { id: `${name}-same` });
    const again = await b.publish(name, 2, { id: `${name}-same` });
    const batch = await b.publishMany([
      { topic: name, data: 3, id: `${name}-other` },
      { topic: name, data: 4, id: `${name}-other` },
    ]);
    assert.equal(again.seq, first.seq);
    assert.equal(batch[0].seq, batch[1].seq);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".messages WHERE topic = $1`, [name]);
    assert.equal(rows[0].n, 2);
  });

  it('does not deliver a message whose TTL ran out before anyone claimed it', async () => {
    const b = bus();
    const name = topic('ttl');
    await b.publish(name, 'stale', { ttlMs: 50 });
    await b.publish(name, 'fresh', { ttlMs: 60_000 });
    await sleep(120);
    const seen: Message[] = [];
    await b.subscribe(name, (message) => void seen.push(message), { from: 'earliest' });
    await eventually(() => seen.length >= 1, 'the fresh message');
    await sleep(200);
    assert.deepEqual(seen.map((m) => m.data), ['fresh']);
    assert.ok(Math.abs(seen[0].ttlMs! - 60_000) <= 1, 'the TTL comes back with the message');
  });

  it('keeps only the newest messages, and none older than the age limit, when retention runs', async () => {
    const name = topic('retention');
    // Its own sweep would also run later; these drivers close before other cases publish.
    const counted = driver({ retention: { maxMessages: 3 } });
    const b = new Bus({ drivers: { postgres: counted } });
    for (let n = 0; n < 6; n++) await b.publish(name, n);
    await counted.applyRetention();
    await b.close();
    const kept = await admin.query(`SELECT convert_from(body, 'UTF8') AS n FROM "${schema}".messages ORDER BY seq`);
    assert.deepEqual(kept.rows.map((r) => r.n), ['3', '4', '5']);
    const aged = driver({ retention: { maxAgeMs: 1 } });
    await aged.connect();
    await sleep(5);
    await aged.applyRetention();
    const left = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".messages`);
    assert.equal(left.rows[0].n, 0);
    await aged.close();
  });

  it('keeps nacked and rejected deliveries in the lease table as documented', async () => {
    const b = bus();
    const name = topic('leases');
    const attempts: number[] = [];
    await b.subscribe(name, async (message) => {
      attempts.push(message.attempt);
      if (message.data === 'later') await message.nack({ delayMs: 60_000 });
      else await message.reject('no');
    }, { group: 'leaser', ack: 'manual' });
    b.on('deliveryFailed', () => {});
    const later = await b.publish(name, 'later');
    await b.publish(name, 'never');
    await eventually(() => attempts.length === 2, 'both deliveries');
    await sleep(100);
    const { rows } = await admin.query(
      `SELECT seq::text, attempts, until > now() + interval '50 seconds' AS delayed FROM "${schema}".leases WHERE group_name = 'leaser'`,
    );
    assert.deepEqual(rows, [{ seq: later.seq, attempts: 1, delayed: true }]);
    const position = await admin.query(`SELECT position::text FROM "${schema}".groups WHERE name = 'leaser'`);
    assert.ok(BigInt(position.rows[0].position) > BigInt(later.seq!), 'the position moved past both');
  });

  it('competing drivers share a group: each message once, both get some', async () => {
    const name = topic('compete');
    const a = bus();
    const b = bus();
    const got = { a: [] as number[], b: [] as number[] };
    for (const [which, instance] of [['a', a], ['b', b]] as const) {
      await instance.subscribe(name, async (message) => {
        got[which].push(message.data as number);
        await sleep(2);
      }, { group: 'competing' });
    }
    for (let n = 0; n < 400; n += 20) await a.publishMany(Array.from({ length: 20 }, (_, i) => ({ topic: name, data: n + i })));
    await eventually(() => got.a.length + got.b.length >= 400, 'all 400', 20_000);
    await sleep(200);
    const all = [...got.a, ...got.b];
    assert.equal(all.length, 400, 'nothing twice');
    assert.equal(new Set(all).size, 400);
    assert.ok(got.a.length > 0 && got.b.length > 0, `split ${got.a.length}/${got.b.length}`);
  });

  it("redelivers a crashed process's unacked group messages to another process after the ack deadline", async () => {
    const name = topic('crash');
    const crashing = driver();
    const crashed = new Bus({ drivers: { postgres: crashing } });
    let held = 0;
    await crashed.subscribe(name, () => {
      held++;
      return new Promise(() => {}); // never settles: the process "dies" holding it
    }, { group: 'survivors', ackDeadlineMs: 500 });
    await crashed.publish(name, 'orphan');
    await eventually(() => held === 1, 'the first delivery');
    // The "crash": the driver stops and disconnects with the delivery still unsettled.
    await crashing.close();
    const survivor = bus();
    const seen: Message[] = [];
    await survivor.subscribe(name, (message) => void seen.push(message), { group: 'survivors', ackDeadlineMs: 500 });
    await eventually(() => seen.length === 1, 'the redelivery', 10_000);
    assert.equal(seen[0].data, 'orphan');
    assert.equal(seen[0].attempt, 2);
  });

  it('closes a subscription whose buffer is full and whose handler hangs, and the group gets the rest', async () => {
    const name = topic('fullbuffer');
    const b = new Bus({ drivers: { postgres: driver() }, closeTimeoutMs: 300, logger: { error() {}, warn() {}, info() {}, debug() {} } as never });
    buses.push(b);
    const seen = new Set<number>();
    const stuck = await b.subscribe(name, (message) => {
      seen.add(message.data as number);
      return new Promise(() => {}); // never finishes
    }, { group: 'full', bufferSize: 2 });
    await b.publishMany(Array.from({ length: 30 }, (_, n) => ({ topic: name, data: n })));
    await eventually(() => seen.size >= 1, 'the first message');
    const started = Date.now();
    await stuck.close();
    assert.ok(Date.now() - started < 2_000, 'close gave up on the hung handler instead of waiting for the backlog');
    await b.subscribe(name, (message) => void seen.add(message.data as number), { group: 'full' });
    await eventually(() => seen.size === 30, 'the 29 others through the remaining member');
  });

  it('is chosen by a postgres:// URL in configuration, with the schema as a query parameter', async () => {
    const b = await createBusFromConfig({ env: { OMNIBUS_URL: `${url}?schema=${schema}` } });
    buses.push(b);
    assert.equal(b.drivers[0].driver.name, 'postgres');
    const name = topic('config');
    const result = await b.publish(name, 1);
    const { rows } = await admin.query(`SELECT seq::text FROM "${schema}".messages WHERE topic = $1`, [name]);
    assert.deepEqual(rows, [{ seq: result.seq }]);
  });

  it('uses a pool the application gives it and leaves it open', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    const d = postgres({ pool, schema });
    const b = new Bus({ drivers: { postgres: d } });
    const name = topic('pool');
    const seen: unknown[] = [];
    await b.subscribe(name, (message) => void seen.push(message.data));
    await b.publish(name, 'via the pool');
    await eventually(() => seen.length === 1, 'the delivery');
    await b.close();
    assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
    await pool.end();
  });

  it('survives a server restart: subscribers recover, publishers retry or get ConnectionError, nothing acked is lost', async () => {
    const name = topic('restart');
    const patient = driver();
    const impatient = driver({ publishRetryMs: 0 });
    const events: string[] = [];
    const b = new Bus({ drivers: { postgres: patient }, logger: { error() {}, warn() {}, info() {}, debug() {} } as never });
    const quick = new Bus({ drivers: { postgres: impatient } });
    buses.push(b, quick);
    b.on('connectionLost', () => events.push('lost'));
    b.on('reconnected', () => events.push('back'));
    b.on('error', () => {});
    const acked = new Set<number>();
    await b.subscribe(name, (message) => void acked.add(message.data as number), { group: 'restarter' });
    await quick.publish(name, -1).catch(() => {}); // connects the impatient driver
    const accepted = new Set<number>();
    for (let n = 0; n < 20; n++) accepted.add((await b.publish(name, n), n));
    await eventually(() => [...accepted].every((n) => acked.has(n)), 'the first 20');
    try {
      await run(`${CLUSTER} stop`);
      await assert.rejects(quick.publish(name, -2), ConnectionError);
      // A patient publisher waits for the server instead of failing.
      const waiting = b.publish(name, 20).then(() => accepted.add(20));
      await sleep(300);
      await run(`${CLUSTER} start`);
      await waiting;
      for (let n = 21; n < 40; n++) accepted.add((await b.publish(name, n), n));
    } finally {
      await ensureRunning();
    }
    await eventually(() => [...accepted].every((n) => acked.has(n)), 'every accepted message after the restart', 20_000);
    await eventually(() => events.includes('back'), 'the reconnected event');
    assert.equal(events[0], 'lost');
    // A restart mid-delivery: the group resumes where it was, without the server's help in between.
    await run(`${CLUSTER} restart`).finally(ensureRunning);
    for (let n = 40; n < 50; n++) accepted.add((await b.publish(name, n), n));
    await eventually(() => [...accepted].every((n) => acked.has(n)), 'the messages after the second restart', 20_000);
  });
});
