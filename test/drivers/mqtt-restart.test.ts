// MQTT connection loss, on a private mosquitto that the test stops and starts again (with
// persistence, in its own directory): subscriptions come back by themselves with the sessions
// the broker kept, publishes during the outage fail with ConnectionError or wait, as configured.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bus } from '../../src/core/bus.js';
import { ConnectionError } from '../../src/core/errors.js';
import { mqtt } from '../../src/drivers/mqtt/index.js';
import { eventually } from '../../src/testing/wait.js';
import { mqttSkip, startPrivateMosquitto } from '../support/mqtt.js';
import { connectionEvents, restartSubscriptions } from '../support/restart.js';

const skip = await mqttSkip();

describe('mqtt driver across broker restarts', { skip }, () => {
  it('comes back by itself after each restart; publishes fail with ConnectionError meanwhile, or wait with queueWhileDisconnected', async () => {
    const server = await startPrivateMosquitto();
    const bus = new Bus({ drivers: { mqtt: mqtt({ url: server.url, reconnectMs: 100 }) } });
    const waiting = new Bus({ drivers: { mqtt: mqtt({ url: server.url, reconnectMs: 100, queueWhileDisconnected: true, publishTimeoutMs: 20_000 }) } });
    try {
      const connection = connectionEvents(bus, 'mqtt');
      const topic = 'restart.jobs';
      const subscriptions = await restartSubscriptions(bus, 'restart', topic);
      // The publishes that waited out an outage, on a topic of their own: a group's shared
      // subscription is back only once its member subscribed again (see docs/mqtt.md).
      const queuedSeen = new Set<unknown>();
      await bus.subscribe('restart.queued', (message) => void queuedSeen.add(message.data));
      await waiting.health();
      let next = 0;
      for (; next < 5; next++) await bus.publish(topic, next);
      await subscriptions.received(next);
      for (let outage = 1; outage <= 2; outage++) {
        await server.stop();
        await connection.lost();
        await assert.rejects(bus.publish(topic, -outage), ConnectionError);
        // Published during the outage, resolved once the broker is back and has it.
        const queued = waiting.publish('restart.queued', outage);
        await server.start();
        await connection.reconnected();
        await queued;
        await eventually(() => queuedSeen.has(outage), `the publish that waited out outage ${outage}`);
        for (const end = next + 5; next < end; next++) await bus.publish(topic, next);
        await subscriptions.received(next);
      }
      connection.steady();
      assert.ok(![...subscriptions.grouped].some((n) => n < 0), 'a publish that failed was not delivered');
    } finally {
      await Promise.all([bus.close(), waiting.close()]);
      await server.dispose();
    }
  });

  it('a group member offline while the broker restarts gets what was published for its session meanwhile', async () => {
    const server = await startPrivateMosquitto();
    const options = { url: server.url, reconnectMs: 100, clientId: 'restart-member' };
    try {
      const first = new Bus({ drivers: { mqtt: mqtt(options) } });
      await first.subscribe('orders.placed', () => {}, { group: 'billing' });
      await first.close();
      const publisher = new Bus({ drivers: { mqtt: mqtt({ url: server.url }) } });
      for (let n = 0; n < 10; n++) await publisher.publish('orders.placed', n);
      await publisher.close();
      // A graceful stop writes the sessions and what they hold to the broker's store.
      await server.stop();
      await server.start();
      const second = new Bus({ drivers: { mqtt: mqtt(options) } });
      const seen = new Set<unknown>();
      await second.subscribe('orders.placed', (message) => void seen.add(message.data), { group: 'billing' });
      await eventually(() => seen.size === 10, 'the 10 messages kept in the session across the restart');
      await second.close();
    } finally {
      await server.dispose();
    }
  });
});
