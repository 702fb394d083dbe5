// Delayed delivery on Kafka beyond the conformance cases: the record the delay topic holds, a
// message moved once when two processes run movers, one whose publisher stopped, the key and
// headers it keeps, and the delay topic kept out of wildcard subscriptions.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Consumer } from '@platformatic/kafka';
import { Bus } from '../../src/core/bus.js';
import { InvalidTopicError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { DELAY_HEADER } from '../../src/drivers/kafka/delays.js';
import { kafka, KAFKA_HEADER } from '../../src/drivers/kafka/index.js';
import { eventually } from '../../src/testing/wait.js';
import { kafkaForTests } from '../support/kafka.js';

const { skip, brokers } = await kafkaForTests();
const run = randomUUID().slice(0, 8);
let topicCount = 0;
const fresh = () => `kd${run}n${topicCount++}`;
/** A delay topic of this run's own, so no other test's movers share it. */
const delayTopic = `omnibus.delayed.${run}`;

/** How late a due message may arrive, as in the conformance cases: generous, for a busy two-core CI machine. */
const SLACK_MS = 2_000;

const buses: Bus[] = [];
function busOver(): Bus {
  const bus = new Bus({ drivers: { kafka: kafka({ brokers, delayTopic }) } });
  buses.push(bus);
  return bus;
}

function arrivals() {
  const got: Array<{ message: Message; at: number }> = [];
  return { got, handler: (message: Message) => void got.push({ message, at: Date.now() }) };
}

describe('kafka delayed delivery', { skip }, () => {
  after(() => Promise.all(buses.map((bus) => bus.close())));

  it('stores a delayed message in the delay topic at once, with its topic and due time in headers, not in its topic', async () => {
    const topic = `${fresh()}.stored`;
    const bus = busOver();
    const due = Date.now() + 60_000;
    const { id } = await bus.publish(topic, 'much later', { deliverAt: new Date(due), key: 'k1' });
    const consumer = new Consumer({ clientId: 'omnibus-test', bootstrapBrokers: brokers, groupId: `raw-${randomUUID()}` });
    try {
      const stream = await consumer.consume({ topics: [delayTopic], mode: 'earliest', autocommit: false });
      let found: { headers: Map<Buffer, Buffer>; key: Buffer } | undefined;
      for await (const record of stream) {
        const headers = new Map([...record.headers].map(([name, value]) => [name.toString(), value.toString()]));
        if (headers.get(KAFKA_HEADER.id) !== id) continue;
        assert.equal(headers.get(DELAY_HEADER.topic), topic);
        assert.equal(headers.get(DELAY_HEADER.due), String(due));
        assert.equal(record.key.toString(), 'k1');
        found = record;
        break;
      }
      await stream.close();
      assert.ok(found, 'the delay topic holds the record');
    } finally {
      await consumer.close(true);
    }
    const stored: unknown[] = [];
    for await (const message of bus.read(topic, { from: 'earliest' })) stored.push(message.data);
    assert.deepEqual(stored, [], 'nothing in its topic before it is due');
  });

  it('moves each message once while two processes run movers, on time, with its id, key and headers', async () => {
    const topic = `${fresh()}.twice`;
    const first = busOver();
    const second = busOver();
    const fanOut = arrivals();
    await first.subscribe(topic, fanOut.handler);
    // The second process's subscription starts its mover too.
    await second.subscribe(topic, () => {});
    const due = Date.now() + 1_500;
    const published: string[] = [];
    for (let i = 0; i < 20; i++) {
      const publisher = i % 2 === 0 ? first : second;
      const { id } = await publisher.publish(topic, `m${i}`, { deliverAt: new Date(due), key: `key-${i % 3}`, headers: { 'x-tenant': 'acme' } });
      published.push(id);
    }
    await eventually(() => fanOut.got.length >= 20, 'all twenty delayed messages', 20_000);
    // Nothing more arrives: no second copy from the other mover.
    const settled = Date.now() + 1_000;
    await eventually(() => Date.now() >= settled, 'a second for copies to show up');
    assert.equal(fanOut.got.length, 20);
    assert.deepEqual(new Set(fanOut.got.map(({ message }) => message.id)), new Set(published));
    for (const { message, at } of fanOut.got) {
      assert.ok(at >= due && at <= due + SLACK_MS, `arrived ${at - due} ms from due (allowed 0 to ${SLACK_MS})`);
      assert.equal(message.key, `key-${Number(String(message.data).slice(1)) % 3}`);
      assert.equal(message.headers['x-tenant'], 'acme');
      assert.equal(message.headers[DELAY_HEADER.topic], undefined, 'the delay headers are gone');
    }
    // One key keeps its publish order.
    const ofKey = fanOut.got.filter(({ message }) => message.key === 'key-0').map(({ message }) => message.data);
    assert.deepEqual(ofKey, ['m0', 'm3', 'm6', 'm9', 'm12', 'm15', 'm18']);
  });

  it('delivers a message whose publisher stopped before it was due to a group in another process', async () => {
    const topic = `${fresh()}.handover`;
    const waiting = busOver();
    const got = arrivals();
    await waiting.subscribe(topic, got.handler, { group: 'workers' });
    const publisher = busOver();
    const due = Date.now() + 1_000;
    await publisher.publish(topic, 'handed over', { deliverAt: new Date(due) });
    await publisher.close();
    await eventually(() => got.got.length === 1, 'the message the stopped publisher stored', 20_000);
    assert.ok(got.got[0].at >= due && got.got[0].at <= due + SLACK_MS, `arrived ${got.got[0].at - due} ms from due`);
  });

  it("counts a delayed message's TTL from its due time, not from when it was stored", async () => {
    const topic = `${fresh()}.ttl`;
    const bus = busOver();
    const got = arrivals();
    await bus.subscribe(topic, got.handler);
    // Counted from when it was stored, the TTL would run out 2 s before due; counted from due,
    // it leaves 4 s for the move and the fetch, which a busy machine needs.
    await bus.publish(topic, 'short-lived', { delayMs: 6_000, ttlMs: 4_000 });
    await eventually(() => got.got.length === 1, 'the delayed message, its TTL not yet run out when due', 20_000);
    assert.equal(got.got[0].message.data, 'short-lived');
  });

  it('keeps the delay topic out of wildcard subscriptions and refuses publishing to it', async () => {
    const bus = busOver();
    const seen = arrivals();
    await bus.subscribe('>', seen.handler);
    const topic = `${fresh()}.visible`;
    await bus.publish(topic, 'later', { delayMs: 300 });
    await eventually(() => seen.got.some(({ message }) => message.topic === topic), 'the moved message', 20_000);
    assert.ok(!seen.got.some(({ message }) => message.topic === delayTopic), 'no record of the delay topic');
    await assert.rejects(bus.publish(delayTopic, 'sneaky'), InvalidTopicError);
  });
});
