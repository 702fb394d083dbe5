// The RabbitMQ driver beyond the conformance suite: what it declares, how topics and
// properties look to plain AMQP clients both ways, the queues it makes, durable nack delays,
// its typed errors, and a restart of a RabbitMQ node of the test's own.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import amqplib from 'amqplib';
import { Bus } from '../../src/core/bus.js';
import { ConfigurationError, ConnectionError, RefusedError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { amqp, type AmqpOptions } from '../../src/drivers/amqp/index.js';
import declaration from '../../src/drivers/amqp/entry.js';
import { roundedDelay } from '../../src/drivers/amqp/delays.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { AMQP_URL, amqpSkip, deleteExchange, startPrivateRabbit } from '../support/amqp.js';
import { connectionEvents, restartSubscriptions, throughTwoOutages } from '../support/restart.js';

const skip = await amqpSkip();
const exchange = `omnibus-test-${randomUUID().slice(0, 8)}`;
let topicCount = 0;
/** A topic root no other test uses. */
const fresh = () => `rt${topicCount++}`;
const run = promisify(execFile);

const buses: Bus[] = [];
function busOver(options: AmqpOptions = {}): Bus {
  const bus = new Bus({ drivers: { amqp: amqp({ url: AMQP_URL, exchange, ...options }) } });
  buses.push(bus);
  return bus;
}

function collect() {
  const messages: Message[] = [];
  return { messages, handler: (message: Message) => void messages.push(message) };
}

describe('amqp driver', { skip }, () => {
  after(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await deleteExchange(exchange);
  });

  it('declares what RabbitMQ queues give: persistent groups, native wildcards, per-queue order, no replay or dedupe', () => {
    assert.deepEqual(amqp().capabilities, {
      persistent: true,
      groups: true,
      replay: false,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: true,
      maxPayloadBytes: 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: false,
    });
  });

  it('reads its exchange, prefetch and connection name from the address and leaves amqplib its own parameters', () => {
    assert.deepEqual(declaration.fromUrl('amqp://u:p@host:5672/vh?exchange=shop&prefetch=10&heartbeat=30'), {
      url: 'amqp://u:p@host:5672/vh?heartbeat=30',
      exchange: 'shop',
      prefetch: 10,
    });
    assert.deepEqual(declaration.fromUrl('amqp://127.0.0.1'), { url: 'amqp://127.0.0.1' });
  });

  it('refuses an exchange RabbitMQ reserves, a bad prefetch and a group queue name past 255 bytes, naming what was wrong', async () => {
    assert.throws(() => amqp({ exchange: 'amq.topic' }), (error: ConfigurationError) => error instanceof ConfigurationError && /amq\./.test(error.message));
    assert.throws(() => amqp({ prefetch: 0 }), /prefetch must be a whole number from 1 to 65535, got 0/);
    const bus = busOver();
    await assert.rejects(bus.subscribe(`${fresh()}.long`, () => {}, { group: 'g'.repeat(250) }), (error: ConfigurationError) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /255 bytes/);
      return true;
    });
  });

  it('publishes persistent AMQP messages a plain client reads: routing key, messageId, timestamp, content type and headers', async () => {
    const root = fresh();
    const bus = busOver();
    const connection = await amqplib.connect(AMQP_URL);
    try {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      // The exchange exists once a driver connected.
      await bus.subscribe(`${root}.warm`, () => {});
      await channel.bindQueue(queue, exchange, `${root}.#`);
      const time = Date.now();
      await bus.publish(`${root}.orders.placed`, { total: 5 }, { id: 'order-5', key: 'customer-1', headers: { 'x-tenant': 'acme' } });
      // The publish resolved on RabbitMQ's confirm: the message is in the queue by now.
      const message = await channel.get(queue, { noAck: true });
      assert.ok(message !== false, 'the message in the plain queue');
      assert.equal(message.fields.routingKey, `${root}.orders.placed`);
      assert.equal(message.properties.messageId, 'order-5');
      assert.equal(message.properties.deliveryMode, 2);
      assert.equal(message.properties.contentType, 'application/json');
      assert.ok(Math.abs(Number(message.properties.timestamp) - time / 1000) <= 2, 'timestamp in seconds');
      assert.equal(message.properties.headers?.['x-tenant'], 'acme');
      assert.equal(message.properties.headers?.['omnibus-key'], 'customer-1');
      assert.deepEqual(JSON.parse(message.content.toString()), { total: 5 });
    } finally {
      await connection.close();
    }
  });

  it('delivers what a plain AMQP client publishes to the exchange, by routing key, with its properties', async () => {
    const root = fresh();
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.>`, handler);
    const connection = await amqplib.connect(AMQP_URL);
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish(exchange, `${root}.a.b`, Buffer.from('{"n":1}'), { contentType: 'application/json', messageId: 'plain-1', headers: { source: 'cli' } });
      // '>' needs at least one token: the root alone does not match.
      channel.publish(exchange, root, Buffer.from('{"n":0}'), { contentType: 'application/json' });
      await channel.waitForConfirms();
      await eventually(() => messages.length === 1, 'the plain message');
      await sleep(200);
      assert.equal(messages.length, 1);
      assert.equal(messages[0].id, 'plain-1');
      assert.equal(messages[0].topic, `${root}.a.b`);
      assert.deepEqual(messages[0].data, { n: 1 });
      assert.equal(messages[0].headers.source, 'cli');
    } finally {
      await connection.close();
    }
  });

  it("gives a group one durable quorum queue named by exchange, group and pattern, kept after its members leave", async () => {
    const topic = `${fresh()}.work`;
    const bus = busOver();
    const sub = await bus.subscribe(topic, () => {}, { group: 'billing' });
    await sub.close();
    const { stdout } = await run('rabbitmqctl', ['list_queues', '--quiet', '--no-table-headers', 'name', 'type', 'durable']);
    const line = stdout.split('\n').find((row) => row.startsWith(`${exchange}:billing:${topic}\t`));
    assert.ok(line !== undefined, `queue ${exchange}:billing:${topic} in ${stdout}`);
    assert.match(line, /\tquorum\ttrue/);
  });

  it('acks of one turn go out as one multiple ack, which never covers a message still unsettled before it', async () => {
    const topic = `${fresh()}.gaps`;
    const first = busOver();
    const held: Message[] = [];
    await first.subscribe(topic, (message) => void held.push(message), { group: 'gaps', ack: 'manual', concurrency: 20 });
    await first.publishMany(Array.from({ length: 20 }, (_, index) => ({ topic, data: index })));
    await eventually(() => held.length === 20, 'all 20 held unsettled');
    // A run from the oldest (0–4), acks behind unsettled ones (7, 9, 12, 13, 19), in one turn and then one more.
    const acked = new Set([0, 1, 2, 3, 4, 7, 9, 12, 13, 19]);
    const byData = new Map(held.map((message) => [message.data as number, message]));
    await Promise.all([4, 2, 0, 9, 13].map((index) => byData.get(index)!.ack()));
    await Promise.all([1, 3, 7, 12, 19].map((index) => byData.get(index)!.ack()));
    await first.close();

    const second = busOver();
    const back: number[] = [];
    await second.subscribe(topic, (message) => void back.push(message.data as number), { group: 'gaps' });
    const expected = [...Array(20).keys()].filter((index) => !acked.has(index));
    await eventually(() => back.length >= expected.length, 'the unacked ten again');
    assert.deepEqual(back.sort((a, b) => a - b), expected);
  });

  it('nack(delayMs) comes back through a delay queue no earlier than the delay, its attempt counted up', async () => {
    const topic = `${fresh()}.later`;
    const bus = busOver();
    const seen: Array<[number, number]> = [];
    await bus.subscribe(topic, async (message) => {
      seen.push([message.attempt, Date.now()]);
      if (message.attempt === 1) await message.nack({ delayMs: 300 });
      else await message.ack();
    }, { group: 'slow', ack: 'manual' });
    await bus.publish(topic, 'x');
    await eventually(() => seen.length === 2, 'the redelivery');
    assert.deepEqual(seen.map(([attempt]) => attempt), [1, 2]);
    assert.ok(seen[1][1] - seen[0][1] >= 290, `came back after ${seen[1][1] - seen[0][1]} ms`);
    assert.equal(roundedDelay(300), 300);
    assert.equal(roundedDelay(1234), 1300);
    assert.equal(roundedDelay(7.2), 8);
  });

  it('a publish to an exchange deleted under the driver fails with RefusedError, and the next one declares it again', async () => {
    const own = `${exchange}-deleted`;
    const bus = busOver({ exchange: own });
    bus.on('error', () => {});
    const topic = `${fresh()}.gone`;
    try {
      await bus.publish(topic, 1);
      const connection = await amqplib.connect(AMQP_URL);
      await (await connection.createChannel()).deleteExchange(own);
      await connection.close();
      await assert.rejects(bus.publish(topic, 2), (error: RefusedError) => {
        assert.ok(error instanceof RefusedError, `rejected with ${(error as Error).name}: ${(error as Error).message}`);
        assert.equal(error.retriable, false);
        assert.match(error.message, /NOT_FOUND/);
        return true;
      });
      // The channel reopens in the background once RabbitMQ closed it; until then a publish says the channel is closed.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await bus.publish(topic, 3);
          break;
        } catch (error) {
          if (!(error instanceof ConnectionError) || Date.now() > deadline) throw error;
          await sleep(10);
        }
      }
    } finally {
      await deleteExchange(own);
    }
  });

  it('reports connectionLost and reconnected on each broker restart; subscribers resume by themselves, publishers get ConnectionError meanwhile', { timeout: 180_000 }, async () => {
    const root = fresh();
    const topic = `${root}.restart`;
    // A node of its own: the shared one on 5672 is never stopped.
    const server = await startPrivateRabbit();
    const bus = busOver({ url: server.url, reconnect: { initialMs: 100, maxMs: 500 } });
    const connection = connectionEvents(bus, 'amqp');
    bus.on('error', () => {});
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++) await bus.publish(topic, n);
    };
    try {
      const subscriptions = await restartSubscriptions(bus, root, topic);
      await throughTwoOutages({
        server, connection, subscriptions, publish,
        whileDown: (outage) => assert.rejects(bus.publish(topic, -outage), ConnectionError),
      });
      assert.ok(!subscriptions.grouped.has(-1) && !subscriptions.grouped.has(-2), 'a refused publish was not stored');
    } finally {
      await bus.close();
      await server.dispose();
    }
  });

  it("keeps a group's unacked messages across a broker restart and hands them to the member once it is back", { timeout: 180_000 }, async () => {
    const topic = `${fresh()}.kept`;
    const server = await startPrivateRabbit();
    const bus = busOver({ url: server.url, reconnect: { initialMs: 100, maxMs: 500 } });
    const connection = connectionEvents(bus, 'amqp');
    bus.on('error', () => {});
    try {
      const seen: Message[] = [];
      await bus.subscribe(topic, (message) => void seen.push(message), { group: 'keeper', ack: 'manual' });
      for (let n = 0; n < 5; n++) await bus.publish(topic, n);
      await eventually(() => seen.length === 5, 'the first deliveries');
      await server.stop();
      await connection.lost();
      // The acks cannot reach RabbitMQ now: they say so, and the messages come back.
      await assert.rejects(Promise.resolve(seen[0].ack()), ConnectionError);
      await server.start();
      await connection.reconnected();
      await eventually(() => seen.length === 10, 'the five unacked messages again');
      assert.deepEqual(seen.slice(5).map((m) => m.data).sort(), [0, 1, 2, 3, 4]);
      assert.ok(seen.slice(5).every((m) => m.attempt === 2), `attempts ${seen.slice(5).map((m) => m.attempt)}`);
      await Promise.all(seen.slice(5).map((m) => m.ack()));
    } finally {
      await bus.close();
      await server.dispose();
    }
  });
});
