import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivery, WireMessage } from '../../src/core/driver.js';
import { LocalDeliveries } from '../../src/core/local-deliveries.js';
import { eventually, sleep } from '../../src/testing/wait.js';

const message = (id: string, extra: Partial<WireMessage> = {}): WireMessage => ({
  id,
  topic: 'orders.created',
  headers: {},
  time: Date.now(),
  body: new Uint8Array(),
  ...extra,
});

function collect(ackDeadlineMs = 60_000) {
  const received: Delivery[] = [];
  const deliveries = new LocalDeliveries(ackDeadlineMs, (delivery) => void received.push(delivery));
  return { received, deliveries };
}

describe('LocalDeliveries', () => {
  it('hands a nacked message over again after the delay, one attempt later', async () => {
    const { received, deliveries } = collect();
    deliveries.hand(message('a'));
    received[0].nack(30);
    await sleep(10);
    assert.equal(received.length, 1, 'not before the delay');
    await eventually(() => received.length === 2, 'the redelivery');
    assert.deepEqual(received.map((d) => [d.message.id, d.attempt]), [['a', 1], ['a', 2]]);
    deliveries.close();
  });

  it('redelivers what stays unsettled past the ack deadline, and ignores the late ack', async () => {
    const { received, deliveries } = collect(40);
    deliveries.hand(message('a'));
    deliveries.hand(message('b'));
    received[1].ack();
    await eventually(() => received.length >= 3, 'a redelivery past the deadline');
    assert.deepEqual(received.slice(0, 3).map((d) => [d.message.id, d.attempt]), [['a', 1], ['b', 1], ['a', 2]]);
    received[0].ack(); // too late: a later attempt is the live one
    received.at(-1)!.ack();
    const count = received.length;
    await sleep(100);
    assert.equal(received.length, count, 'nothing more once the live attempt is acked');
    deliveries.close();
  });

  it('keeps a deadline extended by inProgress', async () => {
    const { received, deliveries } = collect(60);
    deliveries.hand(message('a'));
    for (let i = 0; i < 4; i++) {
      await sleep(30);
      received[0].inProgress();
    }
    assert.equal(received.length, 1);
    received[0].ack();
    deliveries.close();
  });

  it('does not hand over a message whose TTL ran out, first time or again', async () => {
    const { received, deliveries } = collect();
    deliveries.hand(message('stale', { time: Date.now() - 1_000, ttlMs: 500 }));
    deliveries.hand(message('short', { ttlMs: 20 }));
    received[0].nack(50);
    await sleep(150);
    assert.deepEqual(received.map((d) => d.message.id), ['short']);
    deliveries.close();
  });

  it('stops redelivering once closed, while deliveries stay settle-able', async () => {
    const { received, deliveries } = collect(20);
    deliveries.hand(message('a'));
    deliveries.hand(message('b'));
    received[0].nack(10);
    deliveries.close();
    received[1].ack();
    await sleep(80);
    assert.equal(received.length, 2);
  });
});
