import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';

describe('memory driver', () => {
  it('hands the published object through untouched, without encoding', async () => {
    const bus = createBus();
    const payload = { when: new Date(0), nested: { list: [1, 2] } };
    let received: unknown;
    await bus.subscribe('objects.one', (message) => void (received = message.data));
    await bus.publish('objects.one', payload);
    await eventually(() => received !== undefined, 'delivery');
    assert.equal(received, payload, 'the same object, not a copy');
    await bus.close();
  });

  it('roundTrip catches payloads a real broker could not carry', async () => {
    const bus = createBus({ driver: memory({ roundTrip: true }) });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(bus.publish('objects.bad', cyclic), { name: 'SerializationError', topic: 'objects.bad' });
    await assert.rejects(bus.publish('objects.bad', 10n), /cannot encode the payload for 'objects.bad'/);
    await bus.close();
  });

  it('does not deliver a message whose TTL has passed', async () => {
    const bus = createBus({ driver: memory({ history: { maxMessages: 100 } }) });
    await bus.publish('ttl.short', 'stale', { ttlMs: 20 });
    await bus.publish('ttl.short', 'fresh', { ttlMs: 60_000 });
    await sleep(40);
    const seen: unknown[] = [];
    await bus.subscribe('ttl.short', (message) => void seen.push(message.data), { from: 'earliest' });
    await eventually(() => seen.length >= 1, 'the fresh message');
    await sleep(50);
    assert.deepEqual(seen, ['fresh']);
    await bus.close();
  });

  it('forgets ids once the de-duplication window has passed', async () => {
    const bus = createBus({ driver: memory({ dedupeWindowMs: 30 }) });
    const seen: unknown[] = [];
    await bus.subscribe('dedupe.window', (message) => void seen.push(message.data));
    await bus.publish('dedupe.window', 1, { id: 'same' });
    await bus.publish('dedupe.window', 2, { id: 'same' });
    await sleep(50);
    await bus.publish('dedupe.window', 3, { id: 'same' });
    await eventually(() => seen.length === 2, 'two deliveries');
    assert.deepEqual(seen, [1, 3]);
    await bus.close();
  });

  it('hands a nacked group message to another member', async () => {
    const bus = createBus();
    const byMember: Array<[string, number]> = [];
    for (const name of ['a', 'b']) {
      await bus.subscribe('group.nack', async (message) => {
        byMember.push([name, message.attempt]);
        if (message.attempt === 1) await message.nack({ delayMs: 0 });
      }, { group: 'g', ack: 'manual' });
    }
    await bus.publish('group.nack', 'x');
    await eventually(() => byMember.length === 2, 'the redelivery');
    assert.notEqual(byMember[0][0], byMember[1][0], 'the retry went to the other member');
    await bus.close();
  });

  it('keeps history bounded by maxMessages', async () => {
    const bus = createBus({ driver: memory({ history: { maxMessages: 3 } }) });
    for (let n = 0; n < 10; n++) await bus.publish('bounded.history', n);
    const seen: unknown[] = [];
    await bus.subscribe('bounded.history', (message) => void seen.push(message.data), { from: 'earliest' });
    await eventually(() => seen.length === 3, 'the retained messages');
    assert.deepEqual(seen, [7, 8, 9]);
    await bus.close();
  });

  it("refuses 'from' without history, naming the option", async () => {
    const bus = createBus();
    await assert.rejects(bus.subscribe('no.history', () => {}, { from: 'earliest' }), /keeps no history/);
    await bus.close();
  });
});
