import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { Bus, ConfigurationError, ConnectionError, InvalidPositionError, RefusedError, type Message, type WireMessage } from '../../src/core/index.js';
import { createBusFromConfig } from '../../src/config/index.js';
import { postgres, type PostgresOptions } from '../../src/drivers/postgres/index.js';
import { LOCK_NAMESPACE } from '../../src/drivers/postgres/migrate.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { connectionEvents, restartSubscriptions, throughTwoOutages } from '../support/restart.js';
import { PG_URL as url, postgresSkip, privatePostgresSkip, startPostgres } from '../support/postgres.js';

const skip = await postgresSkip();
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

describe('postgres driver', { skip }, () => {
  after(async () => {
    await Promise.all(buses.map((b) => b.close().catch(() => {})));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('fails fast with a ConnectionError naming the address when nothing listens there', async () => {
    const started = Date.now();
    const d = postgres({ connectionString: 'postgres://127.0.0.1:5999/test', schema });
    await assert.rejects(d.ready(), (error: ConnectionError) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /127\.0\.0\.1:5999/);
      assert.match(error.message, /ECONNREFUSED/);
      assert.match(error.message, /server is running/);
      assert.equal(error.retriable, true, 'a server that is down may come back');
      return true;
    });
    assert.ok(Date.now() - started < 2_000, 'failed within 2 s');
    await d.close();
  });

  it('refuses an unknown role or database with a RefusedError naming the problem, not retriable', async () => {
    const role = postgres({ connectionString: 'postgres://no_such_role@127.0.0.1:5432/test', schema });
    await assert.rejects(role.publish([{ id: 'x', topic: 'a', headers: {}, time: Date.now(), body: new Uint8Array() }]), (error: RefusedError) => {
      assert.ok(error instanceof RefusedError);
      assert.match(error.message, /role "no_such_role" does not exist/);
      assert.match(error.message, /check the user, password and database/);
      assert.equal(error.retriable, false, 'retrying cannot create the role');
      return true;
    });
    await role.close();
    const database = postgres({ connectionString: new URL('/no_such_db', url).toString(), schema });
    await assert.rejects(database.ready(), (error: RefusedError) => error instanceof RefusedError && /database "no_such_db" does not exist/.test(error.message) && !error.retriable);
    await database.close();
  });

  it('creates versioned tables on start, once, and refuses an old schema when told not to migrate', async () => {
    const first = driver();
    const second = driver();
    await Promise.all([first.ready(), second.ready()]);
    const { rows } = await admin.query(`SELECT component, version, name FROM "${schema}".migrations ORDER BY version`);
    assert.deepEqual(rows, [
      { component: 'bus', version: 1, name: 'log, groups, leases' },
      { component: 'bus', version: 2, name: 'delayed messages' },
      { component: 'bus', version: 3, name: 'dedupe window' },
    ]);
    const tables = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema]);
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['dedupe', 'delayed', 'groups', 'leases', 'messages', 'migrations']);
    await Promise.all([first.close(), second.close()]);
    const untouched = postgres({ connectionString: url, schema: `${schema}_empty`, migrate: false });
    await assert.rejects(untouched.ready(), (error) => error instanceof ConfigurationError && /migrate: true/.test(error.message));
    await untouched.close();
  });

  it('refuses a schema a newer Omnibus migrated, with or without migrate', async () => {
    const newer = `${schema}_newer`;
    await admin.query(`CREATE SCHEMA "${newer}"`);
    await admin.query(`CREATE TABLE "${newer}".migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
    await admin.query(`INSERT INTO "${newer}".migrations (component, version, name) VALUES ('bus', 99, 'from the future')`);
    try {
      for (const migrate of [true, false]) {
        const old = postgres({ connectionString: url, schema: newer, migrate });
        await assert.rejects(old.ready(), (error) => error instanceof ConfigurationError && /bus migration 99, newer than this version of Omnibus knows \(3\)/.test(error.message));
        await old.close();
      }
    } finally {
      await admin.query(`DROP SCHEMA "${newer}" CASCADE`);
    }
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

  it('stores an id once within the dedupe window and answers a duplicate with the first seq', async () => {
    const b = bus();
    const name = topic('dedupe');
    const first = await b.publish(name, 1, { id: `${name}-same` });
    const again = await b.publish(name, 2, { id: `${name}-same` });
    const batch = await b.publishMany([
      { topic: name, data: 3, id: `${name}-other` },
      { topic: name, data: 4, id: `${name}-other` },
    ]);
    assert.deepEqual(again, { id: `${name}-same`, seq: first.seq, duplicate: true });
    assert.equal(batch[0].duplicate, undefined);
    assert.deepEqual(batch[1], { id: `${name}-other`, seq: batch[0].seq, duplicate: true });
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
    await aged.ready();
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

  it('resolves ack() only once the ack is committed', async () => {
    const b = bus();
    const name = topic('ackcommit');
    let received: Message | undefined;
    await b.subscribe(name, (message) => void (received = message), { group: 'committer', ack: 'manual' });
    const { seq } = await b.publish(name, 'x');
    await eventually(() => received !== undefined, 'the delivery');
    // Holding the lease's row lock keeps the ack's DELETE from committing.
    const blocker = await admin.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM "${schema}".leases WHERE group_name = 'committer' AND seq = $1 FOR UPDATE`, [seq]);
      let acked = false;
      const acking = received!.ack().then(() => (acked = true));
      const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`;
      for (let checks = 0; (await admin.query(waiting, [`%"${schema}".leases%`])).rows[0].n === 0; checks++) {
        assert.ok(checks < 500, 'the ack reached the server');
        await sleep(10);
      }
      assert.equal(acked, false, 'ack() resolved while its DELETE was still waiting');
      await blocker.query('COMMIT');
      await acking;
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".leases WHERE group_name = 'committer'`);
      assert.equal(rows[0].n, 0, 'the lease is gone once ack() resolved');
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      blocker.release();
    }
  });

  it('hands what a closing member never started to a member in another process at once', async () => {
    const name = topic('handback');
    // Neither the safety poll nor the ack deadline comes within the wait below.
    const slow = { pollIntervalMs: 60_000 };
    const leaving = bus(slow);
    const staying = bus(slow);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    const member = await leaving.subscribe(name, async (message) => {
      started.push(message.data as number);
      await gate;
    }, { group: 'handback', ackDeadlineMs: 60_000, bufferSize: 100 });
    await leaving.publishMany(Array.from({ length: 20 }, (_, n) => ({ topic: name, data: n })));
    await eventually(() => started.length === 1, 'the first message started');
    const seen = new Set<number>();
    await staying.subscribe(name, (message) => void seen.add(message.data as number), { group: 'handback', ackDeadlineMs: 60_000 });
    const closing = member.close();
    release();
    await closing;
    await eventually(() => seen.size === 19, 'the 19 messages the closing member never started', 10_000);
    assert.ok(!seen.has(started[0]), 'the started one was acked, not handed on');
    assert.equal(started.length, 1);
  });

  it('reads a snapshot: exactly what was stored before the call, however long a publisher keeps publishing', async () => {
    const d = driver();
    const b = new Bus({ drivers: { postgres: d } });
    buses.push(b);
    const name = topic('history');
    const other = topic('history-other');
    // More than two chunks, with other topics between them that the read must leave out.
    const stored = await b.publishMany(Array.from({ length: 800 }, (_, n) => ({ topic: n % 5 === 0 ? other : name, data: n })));
    const expected = stored.filter((_, n) => n % 5 !== 0).map((result) => result.id);
    const published: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) published.push((await b.publish(name, n, { id: `${name}-late-${n}` })).id);
    })();
    await eventually(() => published.length >= 10, 'the publisher under way');
    // Holding the publish lock, the call sees a known set: every publish that resolved, and
    // not the one waiting for the lock.
    const blocker = await admin.connect();
    let before: string[];
    let reading: AsyncIterator<WireMessage>;
    let first: IteratorResult<WireMessage>;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, `${schema}:publish`]);
      const waiting = `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                       AND classid = $1 AND objid::bigint = (hashtext($2)::bigint + 4294967296) % 4294967296`;
      for (let checks = 0; (await admin.query(waiting, [LOCK_NAMESPACE, `${schema}:publish`])).rows[0].n === 0; checks++) {
        assert.ok(checks < 500, 'the publisher waits for the lock');
        await sleep(10);
      }
      before = [...published];
      reading = d.read({ pattern: name, from: 'earliest' })[Symbol.asyncIterator]();
      first = await reading.next();
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    // The publisher goes on while the read is under way: none of that may prolong it.
    const target = published.length + 300;
    await eventually(() => published.length >= target, '300 more published during the read', 20_000);
    const got: WireMessage[] = first.done ? [] : [first.value];
    for (let next = await reading.next(); !next.done; next = await reading.next()) got.push(next.value);
    publishing = false;
    await publisher;
    assert.ok(got.every((message) => message.topic === name), 'only the pattern');
    assert.ok(got.every((message, n) => n === 0 || BigInt(message.seq!) > BigInt(got[n - 1].seq!)), 'in seq order');
    assert.deepEqual(got.map((message) => message.id), [...expected, ...before]);
  });

  it('reads from a seq (inclusive) or a time, matching wildcards', async () => {
    const b = bus();
    const name = topic('historyfrom');
    const early = await b.publishMany([0, 1, 2].map((n) => ({ topic: `${name}.a`, data: n })));
    await sleep(5);
    const at = Date.now();
    await sleep(5);
    await b.publishMany([3, 4].map((n) => ({ topic: `${name}.b`, data: n })));
    await b.publish(`${name}.a.deeper`, 'not one token');
    const read = async (from: Parameters<Bus['read']>[1]) => {
      const data: unknown[] = [];
      for await (const message of b.read(`${name}.*`, from)) data.push(message.data);
      return data;
    };
    assert.deepEqual(await read({}), [0, 1, 2, 3, 4]);
    assert.deepEqual(await read({ from: { seq: early[1].seq! } }), [1, 2, 3, 4]);
    assert.deepEqual(await read({ from: { time: at } }), [3, 4]);
    assert.deepEqual(await read({ from: { time: new Date(at + 60_000) } }), []);
    assert.deepEqual(await read({ from: { seq: '9223372036854775807' } }), []);
  });

  it('refuses a position that is no seq or no time with InvalidPositionError, for read and subscribe', async () => {
    const d = driver();
    const b = new Bus({ drivers: { postgres: d } });
    buses.push(b);
    const bad = [{ seq: 'abc' }, { seq: '-1' }, { seq: '1.5' }, { seq: '9223372036854775808' }, { seq: 12 }, { time: Number.NaN }, { time: 'yesterday' }, {}, 'latest'];
    for (const from of bad) {
      assert.throws(() => d.read({ pattern: 'a.b', from: from as never }), InvalidPositionError, `read from ${JSON.stringify(from)}`);
    }
    await assert.rejects(b.subscribe(topic('badfrom'), () => {}, { from: { seq: 'abc' } }), (error: InvalidPositionError) => {
      assert.ok(error instanceof InvalidPositionError && error instanceof ConfigurationError);
      assert.equal(error.code, 'INVALID_POSITION');
      assert.match(error.message, /'abc'|"abc"/);
      return true;
    });
    await assert.rejects(b.subscribe(topic('badfrom'), () => {}, { from: { time: new Date('no date') } }), InvalidPositionError);
  });

  it('returns its connection to the pool when a reader stops early', async () => {
    // Two connections: one listens for wake-ups, so a read holding the other would be seen at once.
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const d = postgres({ pool, schema });
    const b = new Bus({ drivers: { postgres: d } });
    try {
      const name = topic('historybreak');
      await b.publishMany(Array.from({ length: 600 }, (_, n) => ({ topic: name, data: n })));
      for (let round = 0; round < 3; round++) {
        let count = 0;
        for await (const message of d.read({ pattern: name, from: 'earliest' })) {
          assert.equal(message.topic, name);
          if (++count === 300) break;
        }
        assert.equal(count, 300);
        assert.equal(pool.totalCount - pool.idleCount, 1, 'only the listening connection is out of the pool');
      }
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
    } finally {
      await b.close();
    }
    await pool.end(); // Not after a failure: it would wait for the leaked connection.
  });

  it('reports connectionLost and reconnected on each server restart; subscribers recover, publishers wait or get ConnectionError meanwhile', { skip: privatePostgresSkip() }, async () => {
    // Its own server: the shared one must never be stopped.
    const server = await startPostgres();
    const local = (options: PostgresOptions = {}) => postgres({ connectionString: server.url, schema, poolSize: 4, ...options });
    const quiet = { error() {}, warn() {}, info() {}, debug() {} } as never;
    const b = new Bus({ drivers: { postgres: local() }, logger: quiet });
    const connection = connectionEvents(b, 'postgres');
    b.on('error', () => {});
    // A publisher that does not wait for the server: it must get ConnectionError while the server is down.
    const quick = new Bus({ drivers: { postgres: local({ publishRetryMs: 0 }) }, logger: quiet });
    quick.on('error', () => {});
    const root = topic('restart');
    const name = `${root}.x`;
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++) await b.publish(name, n);
    };
    try {
      const subscriptions = await restartSubscriptions(b, root, name);
      await quick.publish(`${root}.warm`, -1); // connects the impatient driver
      await throughTwoOutages({
        server, connection, subscriptions, publish,
        whileDown: async (outage, first) => {
          await assert.rejects(quick.publish(`${root}.warm`, -1 - outage), ConnectionError);
          // A patient publisher waits for the server instead of failing.
          return { held: b.publish(name, first) };
        },
      });
    } finally {
      await Promise.all([b.close(), quick.close()].map((closing) => closing.catch(() => {})));
      await server.destroy();
    }
  });
});
