import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { z } from 'zod';
import { Bus, ConfigurationError, ValidationError, createBus, defineEvent, type Driver, type Message } from '../../src/index.js';
import { memory } from '../../src/drivers/memory/index.js';
import { postgres } from '../../src/drivers/postgres/index.js';
import { createOutbox, relayOutbox, type OutboxRelay } from '../../src/outbox/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { PG_URL as url, postgresSkip, privatePostgresSkip, startPostgres } from '../support/postgres.js';

const skip = await postgresSkip();
const schema = `outboxtest_${process.pid}_${Date.now().toString(36)}`;
const pool = new pg.Pool({ connectionString: url, max: 6 });
const outbox = createOutbox({ schema });
const relays: OutboxRelay[] = [];
const buses: Bus[] = [];

function collect(bus: Bus, pattern: string) {
  const messages: Message[] = [];
  return { messages, ready: bus.subscribe(pattern, (message) => void messages.push(message)) };
}

/** Runs `work` in one transaction on its own client, committing unless it throws. */
async function transaction(work: (client: pg.PoolClient) => Promise<void>, on = pool): Promise<void> {
  const client = await on.connect();
  try {
    await client.query('BEGIN');
    await work(client);
    await client.query('COMMIT');
  } catch (error) {
    // A connection the server dropped cannot roll back; it leaves the pool instead.
    const broken = await client.query('ROLLBACK').then(() => undefined, (rollbackError: Error) => rollbackError);
    client.release(broken);
    throw error;
  }
  client.release();
}

function relay(bus: Bus, options: { pollIntervalMs?: number; batchSize?: number; pool?: pg.Pool } = {}): OutboxRelay {
  const started = relayOutbox({ pool, bus, schema, onError: () => {}, ...options });
  relays.push(started);
  return started;
}

describe('transactional outbox', { skip }, () => {
  before(async () => {
    await outbox.migrate(pool);
    await pool.query('CREATE TABLE IF NOT EXISTS ' + `"${schema}".orders (id text PRIMARY KEY)`);
  });

  // Every relay drains the whole outbox, so each case's relays stop before the next case.
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
  });

  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}_none" CASCADE`);
    await pool.end();
  });

  it('relays events of a committed transaction in order with id, key and headers, and marks them sent', async () => {
    const bus = createBus();
    buses.push(bus);
    const seen = collect(bus, 'orders.>');
    await seen.ready;
    const ids: string[] = [];
    await transaction(async (client) => {
      await client.query(`INSERT INTO "${schema}".orders (id) VALUES ('o-1')`);
      for (let n = 0; n < 5; n++) {
        ids.push((await outbox.enqueue(client, 'orders.placed', { n }, { key: 'o-1', headers: { 'x-tenant': 'acme' } })).id);
      }
    });
    relay(bus, { pollIntervalMs: 60_000 });
    await eventually(() => seen.messages.length === 5, 'five relayed events');
    assert.deepEqual(seen.messages.map((m) => m.data), [0, 1, 2, 3, 4].map((n) => ({ n })));
    assert.deepEqual(seen.messages.map((m) => m.id), ids);
    assert.ok(seen.messages.every((m) => m.key === 'o-1' && m.headers['x-tenant'] === 'acme'));
    const { rows } = await pool.query(`SELECT count(*)::int AS unsent FROM "${schema}".outbox WHERE sent_at IS NULL`);
    assert.equal(rows[0].unsent, 0);
  });

  it('publishes nothing from a rolled-back transaction', async () => {
    const bus = createBus();
    buses.push(bus);
    const seen = collect(bus, 'rollback.>');
    await seen.ready;
    const running = relay(bus, { pollIntervalMs: 60_000 });
    await assert.rejects(
      transaction(async (client) => {
        await outbox.enqueue(client, 'rollback.never', 'lost on purpose');
        throw new Error('payment declined');
      }),
      /payment declined/,
    );
    await transaction(async (client) => void (await outbox.enqueue(client, 'rollback.kept', 'kept')));
    await running.flush();
    await eventually(() => seen.messages.length >= 1, 'the committed event');
    await sleep(200);
    assert.deepEqual(seen.messages.map((m) => m.data), ['kept']);
  });

  it('wakes the relay at commit through NOTIFY rather than by polling', async () => {
    const bus = createBus();
    buses.push(bus);
    const seen = collect(bus, 'wake.>');
    await seen.ready;
    const running = relay(bus, { pollIntervalMs: 60_000 });
    await running.ready;
    await sleep(50);
    const committed = Date.now();
    await transaction(async (client) => void (await outbox.enqueue(client, 'wake.up', 1)));
    await eventually(() => seen.messages.length === 1, 'the woken relay', 2_000);
    assert.ok(Date.now() - committed < 1_000, 'relayed well before any poll');
  });

  it('keeps order and publishes each row once with two relays running', async () => {
    const bus = createBus();
    buses.push(bus);
    const seen = collect(bus, 'pair.>');
    await seen.ready;
    relay(bus, { batchSize: 7 });
    relay(bus, { batchSize: 7 });
    for (let n = 0; n < 100; n += 10) {
      await transaction(async (client) => {
        for (let i = n; i < n + 10; i++) await outbox.enqueue(client, 'pair.n', i);
      });
    }
    await eventually(() => seen.messages.length >= 100, 'all 100', 10_000);
    await sleep(200);
    assert.deepEqual(seen.messages.map((m) => m.data), [...Array(100).keys()]);
  });

  it('relays to the postgres driver too, where a replayed batch de-duplicates by id', async () => {
    const bus = new Bus({ drivers: { postgres: postgres({ connectionString: url, schema, poolSize: 3 }) } });
    buses.push(bus);
    const seen = collect(bus, 'pgrelay.>');
    await seen.ready;
    await transaction(async (client) => void (await outbox.enqueue(client, 'pgrelay.x', 'once', { id: 'fixed-id' })));
    await relay(bus).flush();
    // As if a relay crashed after publishing but before its commit: the row is relayed again.
    await pool.query(`UPDATE "${schema}".outbox SET sent_at = NULL WHERE id = 'fixed-id'`);
    await relay(bus).flush();
    await eventually(() => seen.messages.length >= 1, 'the event');
    await sleep(300);
    assert.deepEqual(seen.messages.map((m) => m.data), ['once']);
  });

  it('passes bytes through and validates typed events when enqueueing', async () => {
    const bus = createBus({ driver: memory({ roundTrip: true }) });
    buses.push(bus);
    const seen = collect(bus, 'typed.>');
    await seen.ready;
    const Placed = defineEvent('typed.placed', z.object({ total: z.number() }));
    // The transaction fails with enqueue's own error: a resolved enqueue would commit it.
    await assert.rejects(
      transaction(async (client) => void (await outbox.enqueue(client, Placed, { total: 'x' } as never))),
      ValidationError,
    );
    await transaction(async (client) => {
      await outbox.enqueue(client, Placed, { total: 3 });
      await outbox.enqueue(client, 'typed.bytes', Uint8Array.from([0, 1, 255]));
    });
    await relay(bus).flush();
    await eventually(() => seen.messages.length === 2, 'both events');
    assert.deepEqual(seen.messages[0].data, { total: 3 });
    assert.deepEqual([...(seen.messages[1].data as Uint8Array)], [0, 1, 255]);
  });

  it('sets aside a row the bus can never accept, and relays the rows behind it', async () => {
    const bus = createBus({ driver: memory({ roundTrip: true, maxPayloadBytes: 100 }) });
    buses.push(bus);
    const seen = collect(bus, 'poison.>');
    await seen.ready;
    await transaction(async (client) => {
      await outbox.enqueue(client, 'poison.a', 'small');
      await outbox.enqueue(client, 'poison.b', 'x'.repeat(500));
      await outbox.enqueue(client, 'poison.c', 'small too');
    });
    await relay(bus).flush();
    await eventually(() => seen.messages.length === 2, 'the two good events');
    assert.deepEqual(seen.messages.map((m) => m.topic), ['poison.a', 'poison.c']);
    const { rows } = await pool.query(`SELECT topic, error FROM "${schema}".outbox WHERE failed_at IS NOT NULL`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].topic, 'poison.b');
    assert.match(rows[0].error, /exceeds the driver's limit/);
  });

  it('keeps relaying after the server restarts', { skip: privatePostgresSkip() }, async () => {
    // Its own server: the shared one must never be restarted.
    const server = await startPostgres();
    const own = new pg.Pool({ connectionString: server.url, max: 4 });
    own.on('error', () => {}); // idle clients the restart drops
    try {
      await outbox.migrate(own);
      const bus = createBus();
      buses.push(bus);
      const seen = collect(bus, 'restart.>');
      await seen.ready;
      // No polling: after the restart the relay must find the rows through its own reconnect.
      const running = relay(bus, { pollIntervalMs: 60_000, pool: own });
      await running.ready;
      await server.restart();
      for (let attempt = 0; ; attempt++) {
        try {
          await transaction(async (client) => {
            for (let n = 0; n < 5; n++) await outbox.enqueue(client, 'restart.n', n);
          }, own);
          break;
        } catch (error) {
          if (attempt > 20) throw error;
          await sleep(200); // pooled connections the restart broke
        }
      }
      await eventually(() => seen.messages.length === 5, 'the rows enqueued after the restart', 10_000);
      assert.deepEqual(seen.messages.map((m) => m.data), [0, 1, 2, 3, 4]);
    } finally {
      await Promise.all(relays.splice(0).map((r) => r.close()));
      await own.end();
      await server.destroy();
    }
  });

  it('survives the server going away while a batch is being published, and publishes it again', { skip: privatePostgresSkip() }, async () => {
    const server = await startPostgres();
    const own = new pg.Pool({ connectionString: server.url, max: 4 });
    own.on('error', () => {});
    try {
      await outbox.migrate(own);
      // A bus whose first publish waits until the server has restarted under the relay's transaction.
      const inner = memory();
      let entered!: () => void;
      const publishing = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const restarted = new Promise<void>((resolve) => (release = resolve));
      const gated: Driver = {
        name: inner.name,
        capabilities: inner.capabilities,
        carriesValues: inner.carriesValues,
        publish: async (batch) => {
          entered();
          await restarted;
          return inner.publish(batch);
        },
        subscribe: (spec, deliver) => inner.subscribe(spec, deliver),
        close: () => inner.close(),
      };
      const bus = createBus({ driver: gated });
      buses.push(bus);
      const seen = collect(bus, 'midbatch.>');
      await seen.ready;
      await outbox.enqueue(own, 'midbatch.n', 1);
      relay(bus, { pollIntervalMs: 60_000, pool: own });
      await publishing;
      await server.restart();
      release();
      // Its transaction died with the connection, so the row is still unsent and goes out again.
      await eventually(() => seen.messages.length >= 2, 'the batch published again after the restart', 10_000);
      assert.ok(seen.messages.every((message) => message.data === 1));
    } finally {
      await Promise.all(relays.splice(0).map((r) => r.close()));
      await own.end();
      await server.destroy();
    }
  });

  it('says how to create the table when enqueueing before any migration', async () => {
    const missing = createOutbox({ schema: `${schema}_none` });
    await assert.rejects(missing.enqueue(pool, 'a.b', 1), (error) => error instanceof ConfigurationError && /outbox\.migrate\(pool\)/.test(error.message));
  });
});
