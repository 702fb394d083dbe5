// Delayed delivery on PostgreSQL beyond the conformance cases: a due time that passes with
// no driver running, another process's delayed messages after it stopped, history before due.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { Bus } from '../../src/core/bus.js';
import { postgres } from '../../src/drivers/postgres/index.js';
import { eventually } from '../../src/testing/wait.js';
import { PG_URL as url, postgresSkip } from '../support/postgres.js';

const skip = await postgresSkip();
const schema = `delays_${process.pid}_${Date.now().toString(36)}`;
const busOn = (pollIntervalMs = 5_000) => new Bus({ drivers: { postgres: postgres({ connectionString: url, schema, pollIntervalMs }) } });

describe('postgres delayed delivery', { skip }, () => {
  after(async () => {
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('delivers at once, on the next start, a message that came due while no driver ran', async () => {
    const first = busOn();
    await (await first.subscribe('jobs.overdue', () => {}, { group: 'runner' })).close();
    const due = Date.now() + 200;
    const result = await first.publish('jobs.overdue', 'overdue', { deliverAt: new Date(due) });
    assert.equal(result.seq, undefined, 'no position before it is due');
    await first.close();
    await eventually(() => Date.now() > due + 300, 'the due time to pass with no driver running');
    const second = busOn();
    const got: unknown[] = [];
    const started = Date.now();
    await second.subscribe('jobs.overdue', (message) => void got.push(message.data), { group: 'runner' });
    await eventually(() => got.length === 1, 'the overdue message');
    assert.ok(Date.now() - started < 2_000, 'delivered soon after starting');
    await second.close();
  });

  it("moves another process's delayed messages once it stopped, by the next safety poll", async () => {
    const waiting = busOn(200);
    const got: number[] = [];
    await waiting.subscribe('jobs.handover', () => void got.push(Date.now()));
    const publisher = busOn();
    const due = Date.now() + 300;
    await publisher.publish('jobs.handover', 'handed over', { deliverAt: new Date(due) });
    await publisher.close();
    await eventually(() => got.length === 1, 'the message the stopped publisher held');
    assert.ok(got[0] >= due && got[0] <= due + 2_000, `arrived ${got[0] - due} ms from due`);
    await waiting.close();
  });

  it('keeps a delayed message out of history until due', async () => {
    const bus = busOn();
    const read = async () => {
      const seen: unknown[] = [];
      for await (const message of bus.read('jobs.history')) seen.push(message.data);
      return seen;
    };
    await bus.publish('jobs.history', 'held', { delayMs: 300 });
    assert.deepEqual(await read(), []);
    const got: unknown[] = [];
    await bus.subscribe('jobs.history', (message) => void got.push(message.data));
    await eventually(() => got.length === 1, 'the delayed message');
    assert.deepEqual(await read(), ['held']);
    await bus.close();
  });
});
