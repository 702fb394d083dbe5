// Redis pub/sub mode against a real redis-server and the real redis-cli: a plain PUBLISH
// reaches an Omnibus subscriber, an Omnibus publish reaches a plain SUBSCRIBE, globs are
// filtered to what a pattern means, and what the mode cannot do is refused by name.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { redis } from '../../src/drivers/redis/index.js';
import { eventually } from '../../src/testing/wait.js';
import { collect, REDIS_URL, redisSkip } from '../support/redis.js';

const skip = await redisSkip();
const run = randomUUID().slice(0, 8);
let topicCount = 0;
/** A topic root no other test or run uses: pub/sub channels are shared by the whole server. */
const fresh = () => `ps${run}n${topicCount++}`;
const cli = promisify(execFile);

const buses: Bus[] = [];
function pubsubBus(): Bus {
  const bus = new Bus({ drivers: { redis: redis({ url: REDIS_URL, mode: 'pubsub' }) } });
  buses.push(bus);
  return bus;
}

describe('redis driver, pub/sub mode', { skip }, () => {
  after(() => Promise.all(buses.map((bus) => bus.close())));

  it('declares at most once: nothing persistent, no groups, replay, dedupe or delays', () => {
    assert.deepEqual(redis({ mode: 'pubsub' }).capabilities, {
      persistent: false,
      groups: false,
      replay: false,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: false,
      maxPayloadBytes: 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: false,
    });
  });

  it('delivers what redis-cli PUBLISHes as JSON data, on the channel as topic, with an id and no headers', async () => {
    const bus = pubsubBus();
    const topic = `${fresh()}.created`;
    const { messages, handler } = collect();
    await bus.subscribe(`${topic.split('.')[0]}.*`, handler);
    await cli('redis-cli', ['-u', REDIS_URL, 'PUBLISH', topic, '{"a":1}']);
    await eventually(() => messages.length === 1, 'the message');
    const [message] = messages;
    assert.deepEqual(message.data, { a: 1 });
    assert.equal(message.topic, topic);
    assert.deepEqual(message.headers, {});
    assert.match(message.id, /^[0-9a-f-]{36}$/);
  });

  it("widens '*' to a Redis glob but delivers only one-token matches", async () => {
    const bus = pubsubBus();
    const root = fresh();
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.*`, handler);
    // Redis `*` matches `b.c` too; the pattern does not.
    await cli('redis-cli', ['-u', REDIS_URL, 'PUBLISH', `${root}.b.c`, '1']);
    await cli('redis-cli', ['-u', REDIS_URL, 'PUBLISH', `${root}.b`, '2']);
    await eventually(() => messages.length === 1, 'the message');
    // Redis delivers in publish order on one connection, so the deeper one would have come first.
    assert.deepEqual(messages.map((message) => [message.topic, message.data]), [[`${root}.b`, 2]]);
  });

  it('publishes on the topic as channel: redis-cli SUBSCRIBE gets the body after the metadata frame', async () => {
    const bus = pubsubBus();
    const topic = `${fresh()}.shipped`;
    const subscriber = spawn('redis-cli', ['-u', REDIS_URL, '--raw', 'SUBSCRIBE', topic]);
    let output = '';
    subscriber.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('latin1')));
    try {
      await eventually(() => output.includes('subscribe'), 'redis-cli to confirm its SUBSCRIBE');
      await bus.publish(topic, { order: 7 }, { id: 'fixed-id', headers: { trace: 'x' } });
      await eventually(() => output.includes('{"order":7}'), 'redis-cli to print the message');
      const frame = output.slice(output.lastIndexOf(topic) + topic.length).trim();
      assert.ok(frame.startsWith('\u0000{"id":"fixed-id"'), frame);
      assert.ok(frame.endsWith('\u0000{"order":7}'), frame);
      assert.match(frame, /"headers":\{"trace":"x",/);
    } finally {
      subscriber.kill();
    }
  });

  it('is built from a redis+pubsub:// URL in configuration', async () => {
    const driver = await createDriver({ url: REDIS_URL.replace(/^redis:/, 'redis+pubsub:') });
    assert.equal(driver.capabilities.persistent, false);
    const bus = new Bus({ drivers: { redis: driver } });
    buses.push(bus);
    const topic = `${fresh()}.configured`;
    const { messages, handler } = collect();
    await bus.subscribe(topic, handler);
    await bus.publish(topic, 'hi', { key: 'k1' });
    await eventually(() => messages.length === 1, 'the message');
    assert.equal(messages[0].key, 'k1');
  });

  it('refuses a group, and options that only streams have, by name', async () => {
    await assert.rejects(pubsubBus().subscribe(`${fresh()}.x`, () => {}, { group: 'billing' }), ConfigurationError);
    assert.throws(() => redis({ mode: 'pubsub', retention: {} }), (error: Error) => error instanceof ConfigurationError && /retention applies to streams only/.test(error.message));
    assert.throws(() => redis({ mode: 'fanout' as never }), /mode must be 'streams' or 'pubsub'/);
  });
});
