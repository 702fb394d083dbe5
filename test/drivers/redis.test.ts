// The Redis driver against a real redis-server: the stored layout as redis-cli shows it,
// consumer groups and their pending lists, retention, shared streams, configuration, and a
// server restart mid-stream.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import { ConnectionError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { redis, type RedisOptions } from '../../src/drivers/redis.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { deleteKeys, REDIS_URL, redisSkip, startRedis, stopRedis } from '../support/redis.js';

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

function collect() {
  const messages: Message[] = [];
  return { messages, handler: (message: Message) => void messages.push(message) };
}

describe('redis driver', { skip }, () => {
  const raw = skip === false ? new Redis(REDIS_URL) : undefined;
  // The restart case drops this plain client's connection too; it reconnects by itself.
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
    assert.deepEqual(lines.filter((_, i) => i % 2 === 1), ['id', 'topic', 'time', 'key', 'headers', 'body']);
    assert.equal(fields.id, 'order-1');
    assert.equal(fields.topic, topic);
    assert.ok(Math.abs(Number(fields.time) - Date.now()) < 5_000);
    assert.equal(fields.key, 'c-7');
    assert.deepEqual(JSON.parse(fields.headers), { 'x-tenant': 'acme', 'content-type': 'application/json' });
    assert.equal(fields.body, '{"total":42}');
    assert.equal(await raw!.sismember(`${keyPrefix}@streams`, topic), 1, 'the stream is registered');
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

  it('survives a server restart: subscribers resume by themselves, publishers are retried or get ConnectionError', async () => {
    const root = fresh();
    const topic = `${root}.restart`;
    const bus = busOver();
    // A publisher that does not wait for reconnects: it must get ConnectionError while the server is down.
    const impatient = busOver({ connection: { maxRetriesPerRequest: 0 } });
    impatient.on('error', () => {});
    const events: string[] = [];
    bus.on('connectionLost', () => events.push('lost'));
    bus.on('reconnected', () => events.push('back'));
    bus.on('error', () => {});
    const grouped = new Set<number>();
    const fanout = new Set<number>();
    const wildcard = new Set<number>();
    await bus.subscribe(topic, (m) => void grouped.add(m.data as number), { group: 'survivors' });
    await bus.subscribe(topic, (m) => void fanout.add(m.data as number));
    await bus.subscribe(`${root}.>`, (m) => void wildcard.add(m.data as number));
    await impatient.publish(`${root}.warm`, -1);
    const publish = async (n: number) => {
      for (let tries = 0; ; tries++) {
        try {
          return await bus.publish(topic, n);
        } catch (error) {
          assert.ok(error instanceof ConnectionError, `publish failed with ${(error as Error).name}`);
          if (tries > 40) throw error;
          await sleep(100);
        }
      }
    };
    try {
      for (let n = 0; n < 20; n++) await publish(n);
      await eventually(() => grouped.size === 20 && fanout.size === 20 && wildcard.size === 21, 'the first 20');
      await stopRedis();
      await eventually(() => events.includes('lost'), 'connectionLost', 5_000);
      await assert.rejects(impatient.publish(`${root}.warm`, -2), ConnectionError);
      // Published while the server is down: held and retried by the client once it is back.
      const during = publish(20);
      await startRedis();
      await during;
      for (let n = 21; n < 40; n++) await publish(n);
      await eventually(() => events.includes('back'), 'reconnected', 10_000);
      // The server kept nothing on disk, so only what was published after it came back is there to read.
      const after = (set: Set<number>) => [...set].filter((n) => n >= 20).length;
      await eventually(() => after(grouped) === 20 && after(fanout) === 20 && after(wildcard) === 20, 'all 20 after the restart', 15_000).catch((error) => {
        console.log({ grouped: after(grouped), fanout: after(fanout), wildcard: after(wildcard), events });
        throw error;
      });
    } finally {
      await startRedis();
    }
  });
});
