// createTestBus: what it records of publishes and of handling, and how its waits fail.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { InvalidTopicError } from '../../src/core/errors.js';
import { memory } from '../../src/drivers/memory/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { createTestBus, faulty, WaitTimeoutError, type TestBus } from '../../src/testing/index.js';

let bus: TestBus;
afterEach(() => bus.close());
const dir = mkdtempSync(join(tmpdir(), 'omnibus-test-bus-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('published()', () => {
  it('lists what was published on a pattern, in order, and all of it by default', async () => {
    bus = createTestBus();
    await bus.publish('orders.placed', { id: 'o-1' }, { key: 'c-1', headers: { 'x-tenant': 'acme' } });
    await bus.publish('users.created', 'ann');
    await bus.publish('orders.paid', { id: 'o-1' });
    assert.deepEqual(bus.published('orders.*').map((m) => [m.topic, m.data]), [
      ['orders.placed', { id: 'o-1' }],
      ['orders.paid', { id: 'o-1' }],
    ]);
    const [placed] = bus.published('orders.placed');
    assert.equal(placed.key, 'c-1');
    assert.equal(placed.headers['x-tenant'], 'acme');
    assert.deepEqual(bus.published().map((m) => m.topic), ['orders.placed', 'users.created', 'orders.paid']);
    assert.throws(() => bus.published('orders..placed'), InvalidTopicError);
  });

  it('leaves out what the driver refused, and drain() expects no delivery of it', async () => {
    bus = createTestBus({ driver: faulty(memory(), { failPublishes: 1 }) });
    await bus.subscribe('orders.placed', () => {});
    await assert.rejects(bus.publish('orders.placed', 1));
    await bus.publish('orders.placed', 2);
    assert.deepEqual(bus.published().map((m) => m.data), [2]);
    await bus.drain({ timeoutMs: 500 });
    assert.deepEqual(bus.consumed().map((m) => m.data), [2]);
  });

  it('records payloads decoded on a driver that carries bytes', async () => {
    bus = createTestBus({ driver: sqlite({ path: join(dir, 'decoded.db') }) });
    await bus.publish('orders.placed', { id: 'o-1' });
    assert.deepEqual(bus.published()[0].data, { id: 'o-1' });
  });
});

describe('waitFor()', () => {
  it('resolves with a message published already or later, on pattern and predicate', async () => {
    bus = createTestBus();
    await bus.subscribe('orders.placed', async (message) => {
      await bus.publish('orders.confirmed', { order: message.data });
    });
    const later = bus.waitFor('orders.*', (m) => m.topic === 'orders.confirmed');
    await bus.publish('orders.placed', 7);
    assert.deepEqual((await later).data, { order: 7 });
    assert.equal((await bus.waitFor('orders.placed')).data, 7, 'already published');
  });

  it('times out naming the pattern and listing what it saw, capped', async () => {
    bus = createTestBus();
    await assert.rejects(bus.waitFor('never.*', undefined, { timeoutMs: 10 }), {
      name: 'WaitTimeoutError',
      message: "no message matching 'never.*' was published within 10 ms; nothing was published",
    });
    await bus.publish('orders.placed', { id: 'o-1', total: 25 });
    await bus.publish('audit.log', 'x'.repeat(100));
    await bus.publish('orders.placed', new Uint8Array(3));
    await assert.rejects(bus.waitFor('orders.placed', (m) => m.data === 'nope', { timeoutMs: 10 }), (error: WaitTimeoutError) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.equal(error.topic, 'orders.placed');
      assert.equal(
        error.message,
        "no message matching 'orders.placed' was published within 10 ms; saw 3 (2 on 'orders.placed' failed the predicate): " +
          `orders.placed {"id":"o-1","total":25}, audit.log "${'x'.repeat(59)}…, orders.placed <3 bytes>`,
      );
      return true;
    });
    for (let n = 0; n < 20; n++) await bus.publish('noise.tick', n);
    await assert.rejects(bus.waitFor('never', undefined, { timeoutMs: 10 }), /saw 23: noise\.tick 10, .*noise\.tick 19, and 13 earlier$/);
  });

  it('refuses an invalid pattern at the call', async () => {
    bus = createTestBus();
    await assert.rejects(bus.waitFor('orders.>.x'), InvalidTopicError);
  });
});

describe('consumed()', () => {
  it("lists each delivery's outcome in order: acked, retried, dead-lettered", async () => {
    bus = createTestBus();
    bus.on('deliveryFailed', () => {});
    await bus.subscribe('orders.*', (message) => {
      if (message.data === 'flaky' && message.attempt === 1) throw new Error('once');
      if (message.data === 'poison') throw new Error('never');
    }, { maxAttempts: 2, backoff: { initialMs: 1, maxMs: 1 }, deadLetter: 'dead.orders' });
    await bus.subscribe('users.*', () => {});
    await bus.publish('orders.placed', 'fine');
    await bus.publish('orders.placed', 'flaky');
    await bus.publish('orders.paid', 'poison');
    await bus.publish('users.created', 'ann');
    await bus.drain();
    assert.deepEqual(bus.consumed('orders.*').map((m) => [m.data, m.attempt, m.outcome]), [
      ['fine', 1, 'acked'],
      ['flaky', 1, 'retried'],
      ['poison', 1, 'retried'],
      ['flaky', 2, 'acked'],
      ['poison', 2, 'deadLettered'],
    ]);
    const poison = bus.consumed('orders.paid').at(-1)!;
    assert.equal(poison.reason, 'never');
    assert.equal(poison.subscription, 'orders.*');
    assert.deepEqual(bus.consumed().map((m) => m.topic).filter((t) => !t.startsWith('orders.')), ['users.created']);
    assert.deepEqual(bus.published('dead.>').map((m) => m.data), ['poison'], 'the dead letter was published');
  });

  it('names the group, counts manual nacks and rejects, and records a lapsed ack deadline as retried', async () => {
    bus = createTestBus();
    await bus.subscribe('jobs.run', async (message) => {
      if (message.data === 'nack' && message.attempt === 1) return message.nack({ delayMs: 1 });
      if (message.data === 'reject') return message.reject('bad job');
      if (message.data === 'slow' && message.attempt === 1) return; // neither acked nor nacked
      await message.ack();
    }, { group: 'workers', ack: 'manual', ackDeadlineMs: 50 });
    for (const data of ['nack', 'reject', 'slow']) await bus.publish('jobs.run', data);
    await bus.drain();
    const outcomes = bus.consumed('jobs.run').map((m) => `${m.data}#${m.attempt} ${m.outcome}`);
    assert.deepEqual(outcomes.sort(), ['nack#1 retried', 'nack#2 acked', 'reject#1 deadLettered', 'slow#1 retried', 'slow#2 acked']);
    assert.ok(bus.consumed().every((m) => m.group === 'workers'));
  });
});

describe('drain()', () => {
  it('waits for handlers, the messages they publish and the retries they schedule', async () => {
    bus = createTestBus();
    const done: string[] = [];
    await bus.subscribe('orders.placed', async (message) => {
      if (message.attempt === 1) throw new Error('try again');
      await bus.publish('orders.confirmed', message.data);
    }, { backoff: { initialMs: 30, maxMs: 30 } });
    await bus.subscribe('orders.confirmed', async (message) => {
      await new Promise((resolve) => setImmediate(resolve));
      done.push(message.data as string);
    });
    await bus.publish('orders.placed', 'o-1');
    await bus.drain();
    assert.deepEqual(done, ['o-1']);
    await bus.drain(); // nothing outstanding: resolves at once
  });

  it('waits for deliveries a broker makes later, on a driver that polls', async () => {
    bus = createTestBus({ driver: sqlite({ path: join(dir, 'polls.db') }) });
    const seen: number[] = [];
    await bus.subscribe('ticks', (message) => void seen.push(message.data as number), { group: 'g' });
    for (let n = 0; n < 5; n++) await bus.publish('ticks', n);
    await bus.drain();
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(bus.consumed().length, 5);
  });

  it('times out naming what is still running', async () => {
    bus = createTestBus();
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    await bus.subscribe('jobs.*', () => stuck, { group: 'workers' });
    await bus.subscribe('later.*', (message) => {
      if (message.attempt === 1) throw new Error('later');
    }, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await bus.publish('jobs.big', 1, { id: 'job-1' });
    await bus.publish('jobs.big', 2, { id: 'job-2' });
    await bus.publish('later.x', 3, { id: 'later-1' });
    await assert.rejects(bus.drain({ timeoutMs: 20 }), (error: Error) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.match(error.message, /^drain timed out after 20 ms with 3 still unsettled: /);
      assert.match(error.message, /jobs\.big \(id job-1, attempt 1\) on subscription 'jobs\.\*' \(group 'workers'\): in a handler for \d+ ms/);
      assert.match(error.message, /jobs\.big \(id job-2, attempt 1\) on subscription 'jobs\.\*' \(group 'workers'\): in a handler for \d+ ms/);
      assert.match(error.message, /later\.x \(id later-1, attempt 2\) on subscription 'later\.\*': retry due in \d+ ms/);
      return true;
    });
    release();
  });
});
