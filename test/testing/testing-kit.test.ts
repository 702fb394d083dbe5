import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionError } from '../../src/core/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { createTestBus, faulty } from '../../src/testing/index.js';

describe('testing kit', () => {
  it('createTestBus records what is published and waitFor resolves on a match', async () => {
    const bus = createTestBus();
    await bus.subscribe('orders.placed', async (message) => {
      await bus.publish('orders.confirmed', { order: message.data });
    });
    const waiting = bus.waitFor('orders.*', (m) => m.topic === 'orders.confirmed');
    await bus.publish('orders.placed', 7);
    const confirmed = await waiting;
    assert.deepEqual(confirmed.data, { order: 7 });
    assert.deepEqual(bus.published.map((m) => m.topic), ['orders.placed', 'orders.confirmed']);
    await assert.rejects(bus.waitFor('never.*', undefined, 20), /no message matching 'never\.\*'/);
    await bus.close();
  });

  it('faulty() fails publishes and reports dropped connections', async () => {
    const driver = faulty(memory(), { failPublishes: 1 });
    const bus = createBus({ driver });
    const events: string[] = [];
    bus.on('connectionLost', () => events.push('lost'));
    bus.on('reconnected', () => events.push('back'));
    await assert.rejects(bus.publish('a.b', 1), ConnectionError);
    await bus.publish('a.b', 2);
    driver.disconnect();
    await assert.rejects(bus.publish('a.b', 3), (error: ConnectionError) => error.retriable);
    driver.reconnect();
    await bus.publish('a.b', 4);
    assert.deepEqual(events, ['lost', 'back']);
    assert.equal(bus.stats().published, 2);
    await bus.close();
  });
});
