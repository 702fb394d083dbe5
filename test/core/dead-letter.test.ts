// Dead letters end: a subscription cannot dead-letter into its own pattern, and a dead letter
// that fails again never goes to a topic it already failed on, whoever subscribed where.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Bus } from '../../src/core/bus.js';
import type { DeliveryFailed } from '../../src/core/bus-events.js';
import type { Driver } from '../../src/core/driver.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { HEADER } from '../../src/core/message.js';
import { memory } from '../../src/drivers/memory/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { eventually } from '../../src/testing/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-dead-letter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const fails = () => {
  throw new Error('always fails');
};
const quick = { maxAttempts: 1, backoff: { initialMs: 1, maxMs: 1 } };

for (const [name, makeDriver] of [
  ['memory', () => memory()],
  ['sqlite', (file: string) => sqlite({ path: file })],
] as Array<[string, (file: string) => Driver]>) {
  describe(`dead letters on ${name}`, () => {
    let files = 0;
    const fresh = () => join(dir, `${name}-${files++}.db`);

    it("refuses a deadLetter topic that the subscription's own pattern matches", async () => {
      const bus = new Bus({ drivers: { d: makeDriver(fresh()) } });
      try {
        await assert.rejects(
          bus.subscribe('shop.*', fails, { ...quick, deadLetter: 'shop.dead' }),
          (error) => error instanceof ConfigurationError && /'shop\.dead' matches the subscription's own pattern 'shop\.\*'/.test(error.message),
        );
        assert.equal(bus.stats().delivered, 0);
      } finally {
        await bus.close();
      }
    });

    it('stops a cycle of subscriptions dead-lettering into each other, reporting where it closed', async () => {
      // Two buses on one store, as two processes would be: a.* -> b.dead, b.* -> c.dead, c.* -> a.dead.
      const file = fresh();
      const driver = makeDriver(file);
      const one = new Bus({ drivers: { d: driver } });
      const two = name === 'memory' ? one : new Bus({ drivers: { d: makeDriver(file) } });
      const failed: DeliveryFailed[] = [];
      for (const bus of new Set([one, two])) bus.on('deliveryFailed', (event) => failed.push(event));
      try {
        await one.subscribe('a.*', fails, { ...quick, deadLetter: 'b.dead' });
        await two.subscribe('b.*', fails, { ...quick, deadLetter: 'c.dead' });
        await one.subscribe('c.*', fails, { ...quick, deadLetter: 'a.dead' });
        const topics: string[] = [];
        await two.subscribe('>', (message) => void topics.push(message.topic));
        await one.publish('a.x', { order: 1 });
        await eventually(() => failed.some((event) => event.deadLetter === undefined), 'the failure that closes the cycle');
        // Everything the cycle made was published before that failure, so it has all arrived.
        await eventually(() => topics.length === 4, 'the message and its three dead letters');
        assert.deepEqual(topics, ['a.x', 'b.dead', 'c.dead', 'a.dead']);
        // Events come in whatever order the handlers finish; one per failure.
        assert.deepEqual(failed.map((event) => String(event.deadLetter)).sort(), ['a.dead', 'b.dead', 'c.dead', 'undefined']);
        const last = failed.find((event) => event.deadLetter === undefined)!.message!;
        assert.equal(last.topic, 'a.dead');
        assert.equal(last.headers[HEADER.deadLetterPath], 'a.x,b.dead,c.dead');
        assert.equal(last.headers[HEADER.originalTopic], 'c.dead');
      } finally {
        await Promise.all([...new Set([one, two])].map((bus) => bus.close()));
      }
    });

    it('never dead-letters a message back into the topic it first failed on', async () => {
      // Another process's subscription made this dead letter; this one would send it back.
      const bus = new Bus({ drivers: { d: makeDriver(fresh()) } });
      const failed: DeliveryFailed[] = [];
      bus.on('deliveryFailed', (event) => failed.push(event));
      try {
        const redriven: unknown[] = [];
        await bus.subscribe('shop.orders', (message) => void redriven.push(message.data));
        await bus.subscribe('shop.dead', fails, { ...quick, deadLetter: 'shop.orders' });
        await bus.publish('shop.dead', 'poison', { headers: { [HEADER.originalTopic]: 'shop.orders', [HEADER.error]: 'bad' } });
        await eventually(() => failed.length === 1, 'the failed dead letter reported');
        assert.equal(failed[0].deadLetter, undefined);
        assert.equal(failed[0].message?.data, 'poison');
        assert.deepEqual([failed[0].topic, failed[0].driver], ['shop.dead', name]);
        assert.deepEqual(redriven, []);
        assert.equal(bus.stats().byDriver.d.published, 1, 'nothing published after the first message');
      } finally {
        await bus.close();
      }
    });
  });
}
