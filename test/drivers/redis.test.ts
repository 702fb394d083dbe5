// The Redis driver against a real redis-server: the stored layout as redis-cli shows it,
// consumer groups and their pending lists, acks, hand-back on close, the shared fan-out read,
// history reads, positions, retention, shared streams, configuration, and a server restart
// mid-stream (on a private server).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import type { From, WireMessage } from '../../src/core/driver.js';
import { ConnectionError, InvalidPositionError, RefusedError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { redis, type RedisOptions } from '../../src/drivers/redis/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { connectionEvents, restartSubscriptions, throughTwoOutages } from '../support/restart.js';
import { collect, deleteKeys, REDIS_URL, redisSkip, startPrivateRedis } from '../support/redis.js';

const skip = await redisSkip();
const run = randomUUID().slice(0, 8);
const keyPrefix = `omnibus-test-${run}:`;
let topicCount = 0;
/** A topic root no other test or run uses. */
const fresh = () => `rt${topicCount++}`;
const cli = promisify(execFile);

const buses: Bus[] = [];
function busOver(options: RedisOptions = {}): Bus {
  const bus = new Bus({ drivers: { redis: redis({ url: REDIS_URL, keyPrefix, ...options }) } });
  buses.push(bus);
  return bus;
}

describe('redis driver', { skip }, () => {
  const raw = skip === false ? new Redis(REDIS_URL) : undefined;
  // A client of the shared server for looking at what the driver wrote.
  raw?.on('error', () => {});
  after(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await deleteKeys(keyPrefix);
    raw?.disconnect();
  });

  it('declares what Redis Streams give: persistent groups, replay, key order, dedupe only when asked', () => {
    assert.deepEqual(redis().capabilities, {
      persistent: true,
      groups: true,
      replay: true,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: false,
      maxPayloadBytes: 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: true,
    });
    assert.equal(redis({ dedupeWindowMs: 1_000 }).capabilities.dedupe, true);
  });

  it('stores one stream per topic in the documented field layout, readable with redis-cli XRANGE', async () => {
    const topic = `${fresh()}.orders.placed`;
    const bus = busOver();
    const { seq } = await bus.publish(topic, { total: 42 }, { id: 'order-1', key: 'c-7', headers: { 'x-tenant': 'acme' } });
    const { stdout } = await cli('redis-cli', ['-u', REDIS_URL, 'XRANGE', `${keyPrefix}${topic}`, '-', '+']);
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], seq);
    const fields = Object.fromEntries(Array.from({ length: (lines.length - 1) / 2 }, (_, i) => [lines[1 + 2 * i], lines[2 + 2 * i]]));
    // The topic is the stream's name, so the entry does not repeat it.
    assert.deepEqual(lines.filter((_, i) => i % 2 === 1), ['id', 'time', 'key', 'headers', 'body']);
    assert.equal(fields.id, 'order-1');
    assert.ok(Math.abs(Number(fields.time) - Date.now()) < 5_000);
    assert.equal(fields.key, 'c-7');
    assert.deepEqual(JSON.parse(fields.headers), { 'x-tenant': 'acme', 'content-type': 'application/json' });
    assert.equal(fields.body, '{"total":42}');
    assert.equal(await raw!.sismember(`${keyPrefix}@streams`, topic), 1, 'the stream is registered');
  });

  it('leaves the JSON content type out of an entry whose only header it is, and reads it back as JSON', async () => {
    const topic = `${fresh()}.json`;
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(topic, handler);
    await bus.publish(topic, { total: 1 });
    await bus.publish(topic, new Uint8Array([1, 2]));
    const entries = await raw!.xrange(`${keyPrefix}${topic}`, '-', '+');
    assert.deepEqual(entries.map(([, fields]) => fields.filter((_, i) => i % 2 === 0)), [
      ['id', 'time', 'body'],
      ['id', 'time', 'headers', 'body'],
    ]);
    await eventually(() => messages.length === 2, 'both messages');
    assert.deepEqual(messages[0].data, { total: 1 });
    assert.equal(messages[0].headers['content-type'], 'application/json');
    assert.deepEqual([...(messages[1].data as Uint8Array)], [1, 2]);
  });

  it('stores the rest of a pipeline when Redis refuses one XADD in it, and registers no stream it could not write', async () => {
    const root = fresh();
    const bus = busOver();
    await raw!.set(`${keyPrefix}${root}.taken`, 'not a stream');
    // One publishMany is one pipeline: the refused XADD fails the call, the others stand.
    await assert.rejects(
      bus.publishMany([
        { topic: `${root}.free`, data: 1 },
        { topic: `${root}.taken`, data: 2 },
        { topic: `${root}.free`, data: 3 },
      ]),
      (error: unknown) => error instanceof RefusedError && /redis: the server refused the publish to '.*\.taken': WRONGTYPE/.test(error.message),
    );
    const stored = await raw!.xrange(`${keyPrefix}${root}.free`, '-', '+');
    assert.deepEqual(stored.map(([, fields]) => fields[fields.indexOf('body') + 1]), ['1', '3']);
    assert.equal(await raw!.sismember(`${keyPrefix}@streams`, `${root}.taken`), 0);
    assert.equal(await raw!.sismember(`${keyPrefix}@streams`, `${root}.free`), 1);
  });

  it('stores each payload as its exact bytes, text or not', async () => {
    const topic = `${fresh()}.bytes`;
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(topic, handler);
    // Valid UTF-8 with a byte-order mark and a 4-byte character (sent as text), then bytes that are not UTF-8.
    const payloads = [Buffer.from('\ufeffé😀 "x"', 'utf8'), Buffer.from([0xc3, 0x28, 0xff, 0x00, 0x80])];
    for (const bytes of payloads) await bus.publish(topic, new Uint8Array(bytes));
    await eventually(() => messages.length === 2, 'both payloads');
    assert.deepEqual(messages.map((m) => Buffer.from(m.data as Uint8Array)), payloads);
    const stored = await raw!.xrangeBuffer(`${keyPrefix}${topic}`, '-', '+');
    assert.deepEqual(stored.map(([, fields]) => fields[fields.length - 1]), payloads);
  });

  it('delivers what a plain client adds with XADD, on the stream topic, even with malformed headers', async () => {
    const topic = `${fresh()}.plain`;
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(topic, handler);
    await raw!.xadd(`${keyPrefix}${topic}`, '*', 'body', '{"from":"redis-cli"}');
    await raw!.xadd(`${keyPrefix}${topic}`, '*', 'headers', 'not json', 'body', '2');
    await eventually(() => messages.length === 2, 'the plain entries');
    assert.deepEqual(messages.map((m) => m.data), [{ from: 'redis-cli' }, 2]);
    assert.equal(messages[0].topic, topic);
  });

  it('picks up topics created after a wildcard subscription started, without waiting for a read timeout', async () => {
    const root = fresh();
    const bus = busOver({ blockMs: 30_000 });
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.>`, handler);
    await bus.subscribe(`${root}.*`, () => {}, { group: 'late' });
    await sleep(50);
    const started = Date.now();
    for (const leaf of ['a', 'b', 'c.d']) await bus.publish(`${root}.${leaf}`, leaf);
    await eventually(() => messages.length === 3, 'three new topics', 5_000);
    assert.ok(Date.now() - started < 2_000, 'woken by the registry notice, not by the 30 s block timeout');
  });

  it('a group redelivers a member’s unacked message to another driver after the ack deadline, counting attempts in Redis', async () => {
    const topic = `${fresh()}.claim`;
    const first = busOver();
    const second = busOver();
    const attempts: Array<[string, number]> = [];
    // The first member holds its delivery and never settles it, as a hung process would.
    await first.subscribe(topic, (m) => void attempts.push(['first', m.attempt]), { group: 'g', ack: 'manual', ackDeadlineMs: 60_000 });
    await first.publish(topic, 1);
    await eventually(() => attempts.length === 1, 'the first delivery');
    await second.subscribe(topic, (m) => void attempts.push(['second', m.attempt]), { group: 'g', ack: 'manual', ackDeadlineMs: 300 });
    await eventually(() => attempts.some(([who]) => who === 'second'), 'the redelivery', 5_000);
    const [, attempt] = attempts.find(([who]) => who === 'second')!;
    assert.ok(attempt >= 2, `attempt ${attempt} counts the earlier delivery`);
    const [[, , , deliveries]] = (await raw!.xpending(`${keyPrefix}${topic}`, `g|${topic}`, '-', '+', 10)) as Array<[string, string, number, number]>;
    assert.equal(deliveries, attempt, 'the delivery count Redis keeps is the attempt');
  });

  it('a nack with a delay leaves the entry pending and redelivers it after the delay, attempt 2', async () => {
    const topic = `${fresh()}.later`;
    const bus = busOver();
    const seen: Array<[number, number]> = [];
    await bus.subscribe(topic, async (m) => {
      seen.push([m.attempt, Date.now()]);
      if (m.attempt === 1) await m.nack({ delayMs: 300 });
      else await m.ack();
    }, { group: 'g', ack: 'manual', ackDeadlineMs: 10_000 });
    await bus.publish(topic, 'x');
    await eventually(() => seen.length === 1, 'the first delivery');
    const pending = (await raw!.xpending(`${keyPrefix}${topic}`, `g|${topic}`)) as [number];
    assert.equal(pending[0], 1, 'the nacked entry stays in the pending list');
    await eventually(() => seen.length === 2, 'the redelivery', 5_000);
    assert.equal(seen[1][0], 2);
    assert.ok(seen[1][1] - seen[0][1] >= 250, `redelivered after ${seen[1][1] - seen[0][1]} ms`);
    await sleep(50);
    assert.equal(((await raw!.xpending(`${keyPrefix}${topic}`, `g|${topic}`)) as [number])[0], 0, 'acked');
  });

  it('a delayed nack keeps its delay when the nacking member leaves; another member gets it then', async () => {
    const topic = `${fresh()}.leave`;
    const bus = busOver();
    let nackedAt = 0;
    const leaving = await bus.subscribe(topic, async (m) => {
      await m.nack({ delayMs: 600 });
      nackedAt = Date.now();
    }, { group: 'g', ack: 'manual', ackDeadlineMs: 5_000 });
    await bus.publish(topic, 'x');
    await eventually(() => nackedAt > 0, 'the nack');
    await leaving.close();
    const arrived: Array<[number, number]> = [];
    await bus.subscribe(topic, (m) => void arrived.push([m.attempt, Date.now()]), { group: 'g', ackDeadlineMs: 5_000 });
    await eventually(() => arrived.length === 1, 'the redelivery', 5_000);
    assert.equal(arrived[0][0], 2);
    assert.ok(arrived[0][1] - nackedAt >= 500, `redelivered ${arrived[0][1] - nackedAt} ms after the nack`);
  });

  it('in a group, inProgress() keeps an entry from being claimed by another member', async () => {
    const topic = `${fresh()}.slow`;
    const bus = busOver();
    const attempts: string[] = [];
    const slow = async (m: Message) => {
      attempts.push(`slow:${m.attempt}`);
      for (let i = 0; i < 6; i++) {
        await sleep(100);
        await m.inProgress();
      }
      await m.ack();
    };
    await bus.subscribe(topic, slow, { group: 'g', ack: 'manual', ackDeadlineMs: 250 });
    await bus.publish(topic, 'x');
    await eventually(() => attempts.length === 1, 'the delivery');
    await bus.subscribe(topic, (m) => void attempts.push(`other:${m.attempt}`), { group: 'g', ackDeadlineMs: 250 });
    await sleep(900);
    assert.deepEqual(attempts, ['slow:1']);
  });

  it('a member whose unacked entries passed the deadline keeps reading past its prefetch', async () => {
    const topic = `${fresh()}.prefetch`;
    const bus = busOver({ prefetch: 2 });
    const seen = new Set<number>();
    await bus.subscribe(topic, async (m) => {
      seen.add(m.data as number);
      // The first two are never acked: they hold the whole prefetch until their deadline passes.
      if ((m.data as number) >= 2) await m.ack();
    }, { group: 'g', ack: 'manual', ackDeadlineMs: 200 });
    for (let n = 0; n < 6; n++) await bus.publish(topic, n);
    await eventually(() => seen.size === 6, 'all six', 5_000);
  });

  it("a group's start is kept in Redis: a new group from 'earliest' replays, a returning one resumes", async () => {
    const topic = `${fresh()}.history`;
    const bus = busOver();
    for (let n = 0; n < 5; n++) await bus.publish(topic, n);
    const first = collect();
    const sub = await bus.subscribe(topic, first.handler, { group: 'replayer', from: 'earliest' });
    await eventually(() => first.messages.length === 5, 'the history');
    await sub.close();
    for (let n = 5; n < 8; n++) await bus.publish(topic, n);
    const again = collect();
    // 'earliest' applies when the group is created; a returning group resumes from its position.
    await bus.subscribe(topic, again.handler, { group: 'replayer', from: 'earliest' });
    await eventually(() => again.messages.length === 3, 'what was published meanwhile');
    await sleep(100);
    assert.deepEqual(again.messages.map((m) => m.data), [5, 6, 7]);
  });

  it('trims streams to the retention length and age on publish', async () => {
    const short = `${fresh()}.short`;
    const young = `${fresh()}.young`;
    const bus = busOver({ retention: { maxLength: 10 } });
    const aged = busOver({ retention: { maxAgeMs: 200 } });
    for (let n = 0; n < 500; n++) await bus.publish(short, n);
    await aged.publish(young, 'old');
    await sleep(250);
    await aged.publish(young, 'new');
    const length = await raw!.xlen(`${keyPrefix}${short}`);
    assert.ok(length < 500 && length >= 10, `approximate trimming keeps ${length}`);
    const entries = await raw!.xrange(`${keyPrefix}${young}`, '-', '+');
    assert.ok(entries.length <= 2);
    // Approximate MINID trimming removes whole nodes only; exact on a nearly empty stream is not promised.
    assert.equal(entries.at(-1)![1].at(-1), '"new"');
  });

  it('stores a duplicate id once and answers it with the first seq', async () => {
    const topic = `${fresh()}.dedupe`;
    const bus = busOver({ dedupeWindowMs: 5_000 });
    const first = await bus.publish(topic, 1, { id: `${run}-same` });
    const second = await bus.publish(topic, 2, { id: `${run}-same` });
    assert.equal(second.seq, first.seq);
    assert.equal(await raw!.xlen(`${keyPrefix}${topic}`), 1);
  });

  it('shares one stream per topic prefix when asked, and still filters by pattern', async () => {
    const root = fresh();
    const bus = busOver({ streamTokens: 1 });
    const placed = collect();
    const grouped = collect();
    await bus.subscribe(`${root}.placed`, placed.handler);
    await bus.subscribe(`${root}.*`, grouped.handler, { group: 'all' });
    for (const leaf of ['placed', 'paid', 'placed']) await bus.publish(`${root}.${leaf}`, leaf);
    await eventually(() => placed.messages.length === 2 && grouped.messages.length === 3, 'the shared stream');
    assert.equal(await raw!.xlen(`${keyPrefix}${root}`), 3, 'one stream holds both topics');
    assert.deepEqual(grouped.messages.map((m) => m.topic), [`${root}.placed`, `${root}.paid`, `${root}.placed`]);
  });

  it('works on a client the application built, and leaves it open', async () => {
    const client = new Redis(REDIS_URL);
    const bus = new Bus({ drivers: { redis: redis({ client, keyPrefix }) } });
    const { messages, handler } = collect();
    const topic = `${fresh()}.own`;
    await bus.subscribe(topic, handler);
    await bus.publish(topic, 1);
    await eventually(() => messages.length === 1, 'the delivery');
    await bus.close();
    assert.equal(await client.ping(), 'PONG');
    client.disconnect();
  });

  it('fails fast with a ConnectionError naming the address when nothing listens there', async () => {
    const bus = new Bus({ drivers: { redis: redis({ url: 'redis://127.0.0.1:1', keyPrefix }) } });
    const started = Date.now();
    await assert.rejects(bus.publish('a.b', 1), (error: ConnectionError) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /127\.0\.0\.1:1.*ECONNREFUSED/);
      assert.equal(error.topic, 'a.b');
      return true;
    });
    await assert.rejects(bus.subscribe('a.b', () => {}), ConnectionError);
    assert.ok(Date.now() - started < 2_000, 'no waiting for reconnects');
    await bus.close();
  });

  it('is built from a redis:// URL in configuration', async () => {
    const driver = await createDriver({ url: REDIS_URL, keyPrefix });
    assert.equal(driver.name, 'redis');
    const bus = new Bus({ drivers: { redis: driver } });
    buses.push(bus);
    assert.match((await bus.publish(`${fresh()}.configured`, 1)).seq!, /^\d+-\d+$/);
  });

  it('await ack() resolves once Redis answered the XACK: the entry has left the pending list by then', async () => {
    const topic = `${fresh()}.acked`;
    const bus = busOver();
    const pendingAfterAck: number[] = [];
    await bus.subscribe(topic, async (m) => {
      await m.ack();
      // Asked on another connection right away: only an answered XACK can have taken it off the list.
      pendingAfterAck.push(((await raw!.xpending(`${keyPrefix}${topic}`, `g|${topic}`, m.seq!, m.seq!, 1)) as unknown[]).length);
    }, { group: 'g', ack: 'manual' });
    for (let n = 0; n < 5; n++) await bus.publish(topic, n);
    await eventually(() => pendingAfterAck.length === 5, 'five acks');
    assert.deepEqual(pendingAfterAck, [0, 0, 0, 0, 0]);
  });

  it('an ack Redis never answers rejects with ConnectionError', async () => {
    const server = await startPrivateRedis();
    const bus = busOver({ url: server.url, connection: { maxRetriesPerRequest: 0 } });
    bus.on('error', () => {});
    try {
      const held: Message[] = [];
      await bus.subscribe('acks.lost', (m) => void held.push(m), { group: 'g', ack: 'manual' });
      await bus.publish('acks.lost', 1);
      await eventually(() => held.length === 1, 'the delivery');
      await server.stop();
      await assert.rejects(held[0].ack(), (error: ConnectionError) => {
        assert.ok(error instanceof ConnectionError, `rejected with ${(error as Error).name}`);
        assert.match(error.message, /XACK of 1 entry of stream 'acks\.lost'.*delivers them again after the ack deadline/);
        return true;
      });
    } finally {
      await bus.close();
      await server.dispose();
    }
  });

  it('close() hands each unstarted message once, at once, even to a member with a longer ack deadline', async () => {
    const topic = `${fresh()}.handback`;
    const bus = busOver();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    // A one-message buffer: the reader is blocked on core with more read than core holds.
    const leaving = await bus.subscribe(topic, async (m) => {
      started.push(m.data as number);
      await gate;
    }, { group: 'g', bufferSize: 1, ackDeadlineMs: 3_000 });
    const count = 30;
    await bus.publishMany(Array.from({ length: count }, (_, n) => ({ topic, data: n })));
    await eventually(() => started.length === 1, 'the first message started');
    const seen: number[] = [];
    // It claims only what has been idle for its own deadline: a hand-back must not be measured by the leaver's.
    await bus.subscribe(topic, (m) => void seen.push(m.data as number), { group: 'g', ackDeadlineMs: 30_000 });
    const closing = leaving.close();
    release();
    await closing;
    await eventually(() => seen.length >= count - 1, `the ${count - 1} messages never started`, 5_000);
    // Wait for the hand-back's wake-ups to settle: a second copy would come within a sweep.
    await sleep(300);
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: count }, (_, n) => n).filter((n) => n !== started[0]));
  });

  it('fan-out subscriptions share one blocking read: idle ones open no connection, a topic is read once for all', async () => {
    const root = fresh();
    const connectionName = `omnibus-test-${run}-${root}`;
    const bus = busOver({ connection: { connectionName } });
    const connections = async () =>
      String(await raw!.call('CLIENT', 'LIST')).split('\n').filter((line) => line.includes(`name=${connectionName}`)).length;
    // Commands, pub/sub notices, the group's blocking read, and the two shared fan-out reads (busy and quiet).
    const expected = 5;
    const settled = async () => {
      for (let i = 0; i < 200 && (await connections()) !== expected; i++) await sleep(10);
      return connections();
    };
    const everyone = Array.from({ length: 100 }, () => collect());
    const grouped = collect();
    await bus.subscribe(`${root}.live`, everyone[0].handler);
    await bus.subscribe(`${root}.live`, grouped.handler, { group: 'g' });
    await bus.publish(`${root}.live`, 0);
    await eventually(() => everyone[0].messages.length === 1 && grouped.messages.length === 1, 'the first message');
    assert.equal(await settled(), expected, 'the connections of one fan-out and one group subscription');
    for (let n = 0; n < 100; n++) await bus.subscribe(`${root}.nothing.${n}.>`, () => {});
    for (let n = 0; n < 100; n++) await bus.subscribe(`${root}.absent.${n}`, () => {});
    for (const { handler } of everyone.slice(1)) await bus.subscribe(`${root}.live`, handler);
    for (let n = 1; n <= 10; n++) await bus.publish(`${root}.live`, n);
    await eventually(() => everyone.slice(1).every(({ messages }) => messages.length === 10), 'ten messages to each of 99 subscribers');
    assert.equal(await connections(), expected, '300 more fan-out subscriptions, not one more connection');
    assert.deepEqual(everyone[0].messages.map((m) => m.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const { messages } of everyone.slice(1)) assert.deepEqual(messages.map((m) => m.data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a fan-out subscriber with a full buffer holds up no one on its stream, and still gets everything in order', async () => {
    const topic = `${fresh()}.slow`;
    const bus = busOver({ batchSize: 10 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: number[] = [];
    await bus.subscribe(topic, async (m) => {
      await gate;
      slow.push(m.data as number);
    }, { bufferSize: 2 });
    const fast = collect();
    await bus.subscribe(topic, fast.handler);
    const count = 100;
    for (let n = 0; n < count; n++) await bus.publish(topic, n);
    await eventually(() => fast.messages.length === count, 'the fast subscriber gets all while the slow one is stuck');
    assert.equal(slow.length, 0);
    release();
    await eventually(() => slow.length === count, 'the slow subscriber catches up');
    assert.deepEqual(slow, Array.from({ length: count }, (_, n) => n));
    assert.deepEqual(fast.messages.map((m) => m.data), slow);
  });

  it('subscribers joining while a publisher publishes each get every message from their start, no gap, no repeat', async () => {
    const topic = `${fresh()}.joining`;
    const bus = busOver();
    const total = 300;
    let published = 0;
    const subscribers: Array<{ calledAt: number; resolvedAt: number; seen: number[] }> = [];
    const publishing = (async () => {
      for (let n = 0; n < total; n++) {
        await bus.publish(topic, n);
        published = n + 1;
      }
    })();
    while (published < total - 20) {
      const subscriber = { calledAt: published, resolvedAt: 0, seen: [] as number[] };
      await bus.subscribe(topic, (m) => void subscriber.seen.push(m.data as number));
      subscriber.resolvedAt = published;
      subscribers.push(subscriber);
      await eventually(() => published > subscriber.resolvedAt + 5 || published === total, 'the publisher moving on');
    }
    await publishing;
    await eventually(() => subscribers.every(({ seen }) => seen.at(-1) === total - 1), 'every subscriber at the last message');
    assert.ok(subscribers.length >= 10, `${subscribers.length} subscribers joined`);
    for (const { calledAt, resolvedAt, seen } of subscribers) {
      const first = seen[0];
      // The publish in flight when subscribe resolved ran alongside it and may have been stored
      // before the subscription's start; every publish begun after it is delivered.
      assert.ok(first >= calledAt && first <= resolvedAt + 1, `first ${first}, subscribed between ${calledAt} and ${resolvedAt}`);
      assert.deepEqual(seen, Array.from({ length: total - first }, (_, i) => first + i), `from ${first} on, each once, in order`);
    }
  });

  it('a stream that went quiet while another stayed busy is still read at once when it receives again', async () => {
    const root = fresh();
    // A long block: only a working hand-over between the shared reads delivers within seconds.
    const bus = busOver({ blockMs: 30_000 });
    const hot = collect();
    const calm = collect();
    await bus.subscribe(`${root}.hot`, hot.handler);
    await bus.subscribe(`${root}.calm`, calm.handler);
    await bus.publish(`${root}.calm`, 1);
    await eventually(() => calm.messages.length === 1, 'the calm topic once');
    // The hot topic keeps the busy read returning past the 1 s of silence after which the calm one leaves it.
    let sent = 0;
    for (const until = Date.now() + 1_500; Date.now() < until; sent++) {
      await bus.publish(`${root}.hot`, sent);
      await sleep(20);
    }
    await eventually(() => hot.messages.length === sent, 'the hot topic');
    const again = Date.now();
    await bus.publish(`${root}.calm`, 2);
    await eventually(() => calm.messages.length === 2, 'the calm topic again', 5_000);
    assert.ok(Date.now() - again < 2_000, `took ${Date.now() - again} ms`);
  });

  describe('history reads (Driver.read)', () => {
    async function all(iterable: AsyncIterable<WireMessage>): Promise<WireMessage[]> {
      const out: WireMessage[] = [];
      for await (const wire of iterable) out.push(wire);
      return out;
    }
    const data = (wire: WireMessage) => JSON.parse(Buffer.from(wire.body).toString()) as number;

    it('returns exactly what was stored before the call, in chunks, across streams, while a publisher keeps publishing', async () => {
      const root = fresh();
      const driver = redis({ url: REDIS_URL, keyPrefix, batchSize: 7 });
      const bus = new Bus({ drivers: { redis: driver } });
      buses.push(bus);
      const topics = ['a', 'b', 'c.d'].map((leaf) => `${root}.${leaf}`);
      await bus.publish(`${fresh()}.elsewhere`, -1);
      let published = 0;
      let stop = false;
      let reading: AsyncIterable<WireMessage> | undefined;
      const publishing = (async () => {
        while (!stop) {
          await bus.publish(topics[published % 3], published);
          published++;
          // Called between two publishes: exactly 60 messages are stored.
          if (published === 60) reading = driver.read!({ pattern: `${root}.>`, from: 'earliest' });
        }
      })();
      await eventually(() => reading !== undefined, 'sixty messages published');
      const read: WireMessage[] = [];
      for await (const wire of reading!) {
        read.push(wire);
        // Each step waits for another publish, so the read runs while the streams grow.
        const now = published;
        await eventually(() => published > now, 'the publisher moving on');
      }
      stop = true;
      await publishing;
      assert.ok(published > 120, `${published} published meanwhile`);
      assert.deepEqual(read.map(data).sort((x, y) => x - y), Array.from({ length: 60 }, (_, n) => n));
      for (const topic of topics) {
        const ofTopic = read.filter((wire) => wire.topic === topic).map(data);
        assert.deepEqual(ofTopic, [...ofTopic].sort((x, y) => x - y), `${topic} in publish order`);
      }
      const seqs = read.map((wire) => wire.seq!);
      const byId = (x: string, y: string) => {
        const [xm, xn] = x.split('-').map(BigInt);
        const [ym, yn] = y.split('-').map(BigInt);
        return xm === ym ? Number(xn - yn) : Number(xm - ym);
      };
      assert.deepEqual(seqs, [...seqs].sort(byId), 'merged across streams by entry id');
      assert.ok(read.every((wire) => wire.id && wire.time > 0 && wire.headers['content-type'] === 'application/json'));
    });

    it('starts at a seq (inclusive) or a time, filters a shared stream by pattern, and stops on break', async () => {
      const root = fresh();
      const driver = redis({ url: REDIS_URL, keyPrefix, batchSize: 3, streamTokens: 1 });
      const bus = new Bus({ drivers: { redis: driver } });
      buses.push(bus);
      const seqs: string[] = [];
      for (let n = 0; n < 20; n++) seqs.push((await bus.publish(`${root}.${n % 2 === 0 ? 'even' : 'odd'}`, n)).seq!);
      const even = (await all(driver.read!({ pattern: `${root}.even`, from: { seq: seqs[4] } }))).map(data);
      assert.deepEqual(even, [4, 6, 8, 10, 12, 14, 16, 18]);
      const time = Number(seqs[10].split('-')[0]);
      const fromTime = (await all(driver.read!({ pattern: `${root}.*`, from: { time } }))).map(data);
      assert.equal(fromTime.at(-1), 19);
      assert.ok(fromTime.includes(10) && fromTime[0] <= 10, `from the first message at or after ${time}: ${fromTime}`);
      const some: number[] = [];
      for await (const wire of driver.read!({ pattern: `${root}.>`, from: 'earliest' })) {
        some.push(data(wire));
        if (some.length === 4) break;
      }
      assert.deepEqual(some, [0, 1, 2, 3]);
      assert.deepEqual(await all(driver.read!({ pattern: `${fresh()}.none.>`, from: 'earliest' })), []);
    });
  });

  it('a position that is not a stream id, or a time that is no time, throws InvalidPositionError', async () => {
    const driver = redis({ url: REDIS_URL, keyPrefix });
    const bus = new Bus({ drivers: { redis: driver } });
    buses.push(bus);
    const topic = `${fresh()}.positions`;
    await bus.publish(topic, 1);
    const bad: From[] = [{ seq: 'abc' }, { seq: '-1' }, { seq: '1-2-3' }, { seq: '' }, { seq: '99999999999999999999999-0' }, { time: NaN }, { time: new Date('not a date') }];
    for (const from of bad) {
      const what = JSON.stringify(from);
      const invalid = (error: Error) => {
        assert.ok(error instanceof InvalidPositionError, `${what}: ${error.name}: ${error.message}`);
        assert.equal(error.code, 'INVALID_POSITION');
        return true;
      };
      await assert.rejects(async () => {
        for await (const _ of driver.read!({ pattern: topic, from: from as Exclude<From, 'latest'> })) break;
      }, invalid);
      await assert.rejects(bus.subscribe(topic, () => {}, { from }), invalid);
      await assert.rejects(bus.subscribe(topic, () => {}, { from, group: 'positions' }), invalid);
    }
    // Refused before anything was stored for the group.
    assert.equal(await raw!.hget(`${keyPrefix}@groups`, `positions|${topic}`), null);
  });

  it('reports connectionLost and reconnected on each server restart; subscribers resume by themselves, publishers are held or get ConnectionError meanwhile', async () => {
    const root = fresh();
    const topic = `${root}.restart`;
    // A server of its own: the shared one on 6379 is never stopped.
    const server = await startPrivateRedis();
    const bus = busOver({ url: server.url });
    const connection = connectionEvents(bus, 'redis');
    bus.on('error', () => {});
    // A publisher that does not wait for reconnects: it must get ConnectionError while the server is down.
    const impatient = busOver({ url: server.url, connection: { maxRetriesPerRequest: 0 } });
    impatient.on('error', () => {});
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++) await bus.publish(topic, n);
    };
    try {
      const subscriptions = await restartSubscriptions(bus, root, topic);
      await impatient.publish(`${root}.warm`, -1);
      await throughTwoOutages({
        server, connection, subscriptions, publish,
        whileDown: async (outage, first) => {
          await assert.rejects(impatient.publish(`${root}.warm`, -1 - outage), ConnectionError);
          // Published while the server is down: the client holds it and sends it once the server is back.
          return { held: bus.publish(topic, first) };
        },
      });
    } finally {
      await Promise.all([bus.close(), impatient.close()]);
      await server.dispose();
    }
  });
});
