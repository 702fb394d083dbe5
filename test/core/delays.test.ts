import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Driver } from '../../src/core/driver.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { eventually } from '../../src/testing/wait.js';

/** A driver that stores nothing and cannot delay: enough to see core refuse before it. */
function undelayable(): Driver {
  const inner = memory();
  return {
    name: 'plain',
    capabilities: { ...inner.capabilities, delayedDelivery: false },
    publish: (batch) => inner.publish(batch),
    subscribe: (spec, deliver) => inner.subscribe(spec, deliver),
    close: () => inner.close(),
  };
}

function rejectsNaming(call: () => Promise<unknown>, option: RegExp) {
  return assert.rejects(call, (error: unknown) => error instanceof ConfigurationError && option.test(error.message));
}

describe('delayed delivery in core', () => {
  it('refuses bad delayMs and deliverAt with a ConfigurationError naming the option', async () => {
    const bus = createBus();
    await rejectsNaming(() => bus.publish('a.b', 1, { delayMs: -1 }), /delayMs must be a non-negative number/);
    await rejectsNaming(() => bus.publish('a.b', 1, { delayMs: Number.NaN }), /delayMs .* not NaN/);
    await rejectsNaming(() => bus.publish('a.b', 1, { delayMs: '5' as unknown as number }), /delayMs/);
    await rejectsNaming(() => bus.publish('a.b', 1, { deliverAt: Date.now() as unknown as Date }), /deliverAt must be a valid Date, not number/);
    await rejectsNaming(() => bus.publish('a.b', 1, { deliverAt: new Date('nonsense') }), /deliverAt .* invalid date/);
    await rejectsNaming(() => bus.publish('a.b', 1, { delayMs: 10, deliverAt: new Date() }), /delayMs or deliverAt, not both/);
    await rejectsNaming(() => bus.publishMany([{ topic: 'a.b', data: 1, delayMs: -5 }]), /delayMs/);
    await bus.close();
  });

  it('refuses a delay on a driver without delayedDelivery rather than delivering early', async () => {
    const bus = createBus({ driver: undelayable() });
    await rejectsNaming(() => bus.publish('a.b', 1, { delayMs: 100 }), /driver 'plain' cannot delay delivery .* without delayMs/);
    await rejectsNaming(() => bus.publish('a.b', 1, { deliverAt: new Date() }), /without deliverAt/);
    await bus.publish('a.b', 1);
    await bus.close();
  });

  it('delivers a past deliverAt or a zero delay at once, as an ordinary publish', async () => {
    const bus = createBus();
    const got: unknown[] = [];
    await bus.subscribe('a.now', (message) => void got.push(message.data));
    const result = await bus.publish('a.now', 'past', { deliverAt: new Date(Date.now() - 60_000) });
    await bus.publish('a.now', 'zero', { delayMs: 0 });
    assert.ok(result.seq !== undefined, 'stored at once, with a seq');
    await eventually(() => got.length === 2, 'both messages');
    assert.deepEqual(got, ['past', 'zero']);
    await bus.close();
  });

  it('a writer returns a bad delay as a result and delivers a good one no earlier than due', async () => {
    const bus = createBus();
    const writer = bus.writer<string>('a.frame');
    const bad = writer.write('x', { delayMs: -1 });
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.error instanceof ConfigurationError && /delayMs/.test(bad.error.message));
    const arrived: number[] = [];
    await bus.subscribe('a.frame', () => void arrived.push(Date.now()));
    const due = Date.now() + 300;
    assert.equal(writer.write('later', { deliverAt: new Date(due) }).ok, true);
    await eventually(() => arrived.length === 1, 'the delayed write');
    assert.ok(arrived[0] >= due && arrived[0] <= due + 2_000, `arrived ${arrived[0] - due} ms from due`);
    await bus.close();
  });
});
