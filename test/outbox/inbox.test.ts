import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { Bus, createBus } from '../../src/index.js';
import { postgres } from '../../src/drivers/postgres/index.js';
import { inbox } from '../../src/outbox/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { PG_URL as url, postgresSkip } from '../support/postgres.js';

const skip = await postgresSkip();
const schema = `inboxtest_${process.pid}_${Date.now().toString(36)}`;
const pool = new pg.Pool({ connectionString: url, max: 6 });
const buses: Bus[] = [];

async function invoices(): Promise<string[]> {
  const { rows } = await pool.query(`SELECT order_id FROM "${schema}".invoices ORDER BY order_id`);
  return rows.map((row) => row.order_id);
}

describe('inbox', { skip }, () => {
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('handles a message redelivered with the same id once, storing the id with the handler writes', async () => {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".invoices (order_id text NOT NULL, message_id text NOT NULL)`);
    const bus = createBus();
    buses.push(bus);
    let calls = 0;
    await bus.subscribe(
      'orders.placed',
      inbox({ pool, schema, consumer: 'billing' }, async (message, client) => {
        calls++;
        await client.query(`INSERT INTO "${schema}".invoices VALUES ($1, $2)`, [(message.data as { order: string }).order, message.id]);
      }),
    );
    // The memory driver keeps no de-duplication window here, so each publish is a delivery.
    await bus.publish('orders.placed', { order: 'o-1' }, { id: 'm-1' });
    await bus.publish('orders.placed', { order: 'o-1' }, { id: 'm-1' });
    await bus.publish('orders.placed', { order: 'o-2' }, { id: 'm-2' });
    await eventually(() => calls === 2, 'two handled');
    await sleep(200);
    assert.equal(calls, 2);
    assert.deepEqual(await invoices(), ['o-1', 'o-2']);
    const { rows } = await pool.query(`SELECT consumer, message_id FROM "${schema}".inbox ORDER BY message_id`);
    assert.deepEqual(rows, [
      { consumer: 'billing', message_id: 'm-1' },
      { consumer: 'billing', message_id: 'm-2' },
    ]);
  });

  it('leaves no processed id behind when the handler fails, so the retry does the work', async () => {
    const bus = createBus();
    buses.push(bus);
    const attempts: number[] = [];
    await bus.subscribe(
      'orders.retried',
      inbox({ pool, schema, consumer: 'billing' }, async (message, client) => {
        attempts.push(message.attempt);
        await client.query(`INSERT INTO "${schema}".invoices VALUES ($1, $2)`, ['o-3', message.id]);
        if (message.attempt === 1) throw new Error('ledger unavailable');
      }),
      { backoff: { initialMs: 10, maxMs: 10 } },
    );
    await bus.publish('orders.retried', {}, { id: 'm-3' });
    await eventually(() => attempts.length === 2, 'the retry');
    await sleep(100);
    assert.deepEqual(attempts, [1, 2]);
    assert.deepEqual((await invoices()).filter((id) => id === 'o-3'), ['o-3']);
  });

  it('runs concurrent deliveries of one id once, and each consumer once', async () => {
    const bus = new Bus({ drivers: { postgres: postgres({ connectionString: url, schema, poolSize: 3 }) } });
    buses.push(bus);
    let billing = 0;
    let shipping = 0;
    const slow = (count: () => void) =>
      async () => {
        count();
        await sleep(50);
      };
    await bus.subscribe('orders.shipped', inbox({ pool, schema, consumer: 'billing' }, slow(() => billing++)), { concurrency: 4 });
    await bus.subscribe('orders.shipped', inbox({ pool, schema, consumer: 'shipping' }, slow(() => shipping++)));
    // Two subscriptions of one consumer receive the same message at the same time.
    await bus.subscribe('orders.shipped', inbox({ pool, schema, consumer: 'billing' }, slow(() => billing++)));
    await bus.publish('orders.shipped', {}, { id: 'm-4' });
    await eventually(() => billing >= 1 && shipping >= 1, 'both consumers');
    await sleep(300);
    assert.equal(billing, 1);
    assert.equal(shipping, 1);
  });
});
