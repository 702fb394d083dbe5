// Delayed delivery on Redis beyond the conformance cases: another process's delayed messages
// after it stopped, a due time that passed with no driver running, the keys it leaves.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Bus } from '../../src/core/bus.js';
import { redis } from '../../src/drivers/redis/index.js';
import { eventually } from '../../src/testing/wait.js';
import { deleteKeys, REDIS_URL, redisSkip } from '../support/redis.js';

const skip = await redisSkip();
const keyPrefix = `omnibus-delays-${randomUUID().slice(0, 8)}:`;
const busOn = () => new Bus({ drivers: { redis: redis({ url: REDIS_URL, keyPrefix, dedupeWindowMs: 60_000 }) } });

describe('redis delayed delivery', { skip }, () => {
  after(() => deleteKeys(keyPrefix));

  it("delivers on time a message whose publisher stopped before it was due, through another process's mover", async () => {
    const waiting = busOn();
    const got: number[] = [];
    await waiting.subscribe('jobs.handover', () => void got.push(Date.now()), { group: 'workers' });
    const publisher = busOn();
    const due = Date.now() + 400;
    const result = await publisher.publish('jobs.handover', 'handed over', { deliverAt: new Date(due) });
    assert.equal(result.seq, undefined, 'no stream id before it is due');
    await publisher.close();
    await eventually(() => got.length === 1, 'the message the stopped publisher held');
    assert.ok(got[0] >= due && got[0] <= due + 2_000, `arrived ${got[0] - due} ms from due`);
    await waiting.close();
  });

  it('delivers at once, on the next connect, a message that came due while no driver ran, and leaves no held keys', async () => {
    const first = busOn();
    await (await first.subscribe('jobs.overdue', () => {}, { group: 'runner' })).close();
    const due = Date.now() + 200;
    await first.publish('jobs.overdue', 'overdue', { deliverAt: new Date(due) });
    await first.close();
    await eventually(() => Date.now() > due + 300, 'the due time to pass with no driver running');
    const second = busOn();
    const got: unknown[] = [];
    await second.subscribe('jobs.overdue', (message) => void got.push(message.data), { group: 'runner' });
    await eventually(() => got.length === 1, 'the overdue message');
    await second.close();
    const client = new Redis(REDIS_URL);
    try {
      assert.equal(await client.zcard(`${keyPrefix}@delayed`), 0);
      assert.equal(await client.hlen(`${keyPrefix}@delayed:entries`), 0);
    } finally {
      client.disconnect();
    }
  });

  it('drops a delayed copy of an id already stored within the de-duplication window', async () => {
    const bus = busOn();
    const got: unknown[] = [];
    await bus.subscribe('jobs.once', (message) => void got.push(message.data));
    await bus.publish('jobs.once', 'now', { id: 'same-id' });
    await bus.publish('jobs.once', 'later', { id: 'same-id', delayMs: 200 });
    await bus.publish('jobs.once', 'marker', { delayMs: 300 });
    await eventually(() => got.includes('marker'), 'the marker published after the copy');
    assert.deepEqual(got, ['now', 'marker']);
    await bus.close();
  });
});
