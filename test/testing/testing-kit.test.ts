import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionError } from '../../src/core/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { faulty } from '../../src/testing/index.js';

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
