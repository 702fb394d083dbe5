// `omnibus/metrics` on an application's own registry, without the gateway.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Bus } from '../src/core/bus.js';
import { createBus } from '../src/create-bus.js';
import { memoryWithLag } from './support/lag.js';
import { collectMetrics } from '../src/metrics.js';
import { eventually } from '../src/testing/wait.js';

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('collectMetrics', () => {
  it("puts the bus's counters on the given registry, read at scrape time", async () => {
    const bus = createBus();
    const registry = new Registry();
    collectMetrics(bus, registry);
    let failures = 0;
    await bus.subscribe('shop.orders', () => {
      if (failures++ < 1) throw new Error('first try fails');
    }, { group: 'billing', backoff: { initialMs: 1, maxMs: 1 } });
    await bus.subscribe('shop.*', () => {
      throw new Error('always fails');
    }, { maxAttempts: 2, deadLetter: 'dead.shop', backoff: { initialMs: 1, maxMs: 1 } });
    await bus.publish('shop.orders', { id: 1 });
    await eventually(() => bus.stats().deadLettered === 1 && bus.stats().acked >= 1, 'the retry and the dead letter');

    assert.equal(await value(registry, 'omnibus_published_messages_total', { driver: 'memory' }), 2, 'the order and its dead letter');
    const billing = { pattern: 'shop.orders', group: 'billing' };
    assert.equal(await value(registry, 'omnibus_delivered_messages_total', billing), 2);
    assert.equal(await value(registry, 'omnibus_retried_messages_total', billing), 1);
    assert.equal(await value(registry, 'omnibus_acked_messages_total', billing), 1);
    assert.equal(await value(registry, 'omnibus_dead_lettered_messages_total', { pattern: 'shop.*', group: '' }), 1);
    assert.match(await registry.metrics(), /omnibus_dropped_messages_total\{pattern="shop\.\*",group=""\} 0/);
    await bus.close();
  });

  it('leaves out the lag of a group whose driver cannot answer, counts it, and still answers the scrape', async () => {
    let failing = true;
    const bus = new Bus({
      drivers: {
        memory: memoryWithLag(async () => {
          if (failing) throw new Error('broker on fire');
          return 7;
        }),
      },
    });
    const errors: unknown[] = [];
    bus.on('error', ({ error }) => errors.push(error));
    const registry = new Registry();
    collectMetrics(bus, registry);
    await bus.subscribe('shop.orders', () => {}, { group: 'billing' });
    const billing = { pattern: 'shop.orders', group: 'billing' };

    const text = await registry.metrics();
    assert.doesNotMatch(text, /^omnibus_consumer_lag\{/m, 'no series for the group that failed');
    assert.match(text, /omnibus_published_messages_total/, 'the rest of the scrape is there');
    assert.equal(errors.length, 1, 'the failure is reported as a bus error');
    failing = false;
    assert.equal(await value(registry, 'omnibus_consumer_lag', billing), 7);
    assert.equal(await value(registry, 'omnibus_consumer_lag_errors_total', billing), 1);
    await bus.close();
  });
});
