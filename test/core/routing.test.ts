import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError, NoRouteError } from '../../src/core/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { eventually } from '../../src/testing/wait.js';

describe('multi-driver routing', () => {
  it('bus.capabilities are what every driver can do', async () => {
    const bus = createBus({
      drivers: { small: memory({ maxPayloadBytes: 1_000, dedupeWindowMs: 1_000 }), big: memory({ history: { maxMessages: 10 } }) },
      routes: [{ topics: ['small.>'], driver: 'small' }, { topics: ['>'], driver: 'big' }],
    });
    assert.deepEqual(bus.capabilities, {
      persistent: false,
      groups: true,
      replay: false,
      dedupe: false,
      ordering: 'global',
      nativeWildcards: true,
      maxPayloadBytes: 1_000,
      ackDeadline: true,
      delayedDelivery: true,
    });
    await bus.close();
  });

  it('sends each topic to the first matching route and subscribes on every driver a pattern spans', async () => {
    const fast = memory();
    const durable = memory({ roundTrip: true });
    const bus = createBus({
      drivers: { fast, durable },
      routes: [{ topics: ['game.>'], driver: 'fast' }, { topics: ['>'], driver: 'durable' }],
    });
    const all: string[] = [];
    const game: string[] = [];
    await bus.subscribe('>', (message) => void all.push(message.topic));
    await bus.subscribe('game.*', (message) => void game.push(message.topic));
    await bus.publish('game.tick', 1);
    await bus.publish('orders.placed', 2);
    await eventually(() => all.length === 2 && game.length === 1, 'routed deliveries');
    assert.deepEqual(all.sort(), ['game.tick', 'orders.placed']);
    assert.deepEqual(game, ['game.tick']);
    const stats = bus.stats();
    assert.equal(stats.byDriver.fast.published, 1);
    assert.equal(stats.byDriver.durable.published, 1);
    await bus.close();
  });

  it('fails a publish no route accepts with NoRouteError, storing nothing', async () => {
    const bus = createBus({ drivers: { only: memory() }, routes: [{ topics: ['game.>'], driver: 'only' }] });
    await assert.rejects(bus.publish('orders.placed', 1), (error: NoRouteError) => {
      assert.ok(error instanceof NoRouteError);
      assert.equal(error.topic, 'orders.placed');
      return true;
    });
    assert.equal(bus.stats().published, 0);
    await bus.close();
  });

  it('refuses routes naming unknown drivers, and several drivers without routes', () => {
    assert.throws(() => createBus({ drivers: { a: memory() }, routes: [{ topics: ['>'], driver: 'b' }] }), /names driver 'b'/);
    assert.throws(() => createBus({ drivers: { a: memory(), b: memory() } }), ConfigurationError);
  });
});
