import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionError } from '../../src/core/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { eventually, faulty } from '../../src/testing/index.js';

describe('faulty()', () => {
  it('fails publishes and reports dropped connections', async () => {
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

describe('eventually()', () => {
  it('names what it waited for, asking a function for it only on timeout', async () => {
    let asked = 0;
    const describeIt = () => `item ${++asked}`;
    await eventually(() => true, describeIt, 10);
    assert.equal(asked, 0);
    await assert.rejects(eventually(() => false, describeIt, 10), { name: 'WaitTimeoutError', message: 'timed out after 10 ms waiting for item 1' });
    await assert.rejects(eventually(() => false, 'the plain text', 10), { message: 'timed out after 10 ms waiting for the plain text' });
  });
});
