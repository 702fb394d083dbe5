// Consumer lag against the real brokers: every driver that reports lag counts a group's
// unacknowledged messages alike, and bus.lag() / stats().lag carry the figure.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { Bus } from '../../src/core/bus.js';
import type { Driver } from '../../src/core/driver.js';
import { ConnectionError } from '../../src/core/errors.js';
import { MAX_LAG_GROUPS, type GroupLag } from '../../src/core/lag.js';
import type { Message } from '../../src/core/message.js';
import { kafka } from '../../src/drivers/kafka/index.js';
import { nats } from '../../src/drivers/nats/index.js';
import { postgres } from '../../src/drivers/postgres/index.js';
import { Redis } from 'ioredis';
import { redis } from '../../src/drivers/redis/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { LAG_COUNT_CAP } from '../../src/drivers/sqlite/leases.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { kafkaForTests } from '../support/kafka.js';
import { memoryWithLag } from '../support/lag.js';
import { deleteStreams, NATS_URL, natsSkip } from '../support/nats.js';
import { PG_URL, postgresSkip } from '../support/postgres.js';
import { deleteKeys, REDIS_URL, redisSkip } from '../support/redis.js';

const run = randomUUID().slice(0, 8);
const N = 10;
const K = 4;
/** Published while the group has no live member. */
const M = 3;

/** Polls bus.lag() until the group's figure is `expected`; fails naming the last figure seen. */
async function lagReaches(bus: Bus, pattern: string, group: string, expected: number, timeoutMs = 15_000): Promise<GroupLag> {
  const deadline = Date.now() + timeoutMs;
  let last: GroupLag | undefined;
  for (;;) {
    last = (await bus.lag()).find((figure) => figure.pattern === pattern && figure.group === group);
    if (last?.lag === expected) return last;
    if (Date.now() > deadline) assert.fail(`lag of ${group} on ${pattern} stayed ${last?.lag ?? 'unreported'} (${last?.error?.message ?? 'no error'}), expected ${expected}`);
    await sleep(20);
  }
}

/**
 * Publishes N messages over `topics` to a group subscribed with manual acks, acks K of them,
 * and checks the lag at N, N-K and 0; then, with the group's only member gone, that M new
 * messages count as lag too (stored, never delivered).
 */
function lagCase(name: string, makeDriver: () => Driver, pattern: (root: string) => string, topics: (root: string) => string[]) {
  it(`${name}: lag counts a group's unacknowledged messages: N, N-k after k acks, 0, then what arrives while it is away`, async () => {
    const root = `lag${run}${name.replace(/\W/g, '')}`;
    const subscribed = pattern(root);
    const bus = new Bus({ drivers: { [name]: makeDriver() } });
    try {
      const received: Message[] = [];
      const subscription = await bus.subscribe(subscribed, (message) => void received.push(message), { group: 'billing', ack: 'manual' });
      assert.equal((await lagReaches(bus, subscribed, 'billing', 0)).lag, 0, 'nothing published yet');
      const on = topics(root);
      for (let i = 0; i < N; i++) await bus.publish(on[i % on.length], { i });
      await eventually(() => received.length === N, `${N} deliveries`, 20_000);
      await lagReaches(bus, subscribed, 'billing', N);
      for (const message of received.slice(0, K)) await message.ack();
      await lagReaches(bus, subscribed, 'billing', N - K);
      for (const message of received.slice(K)) await message.ack();
      await lagReaches(bus, subscribed, 'billing', 0);
      await subscription.close();
      for (let i = 0; i < M; i++) await bus.publish(on[i % on.length], { i: N + i });
      const away = await lagReaches(bus, subscribed, 'billing', M);
      assert.deepEqual(bus.stats().lag[`${subscribed}#billing`], away, 'stats() keeps the last fetched figure');
    } finally {
      await bus.close();
    }
  });
}

describe('consumer lag: sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-lag-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  lagCase('sqlite', () => sqlite({ path: join(dir, 'lag.db') }), (root) => `${root}.*`, (root) => [`${root}.a`, `${root}.b`]);

  it(`sqlite: counts at most ${LAG_COUNT_CAP} unread per topic, so a deep backlog cannot stall a scrape`, async () => {
    const bus = new Bus({ drivers: { sqlite: sqlite({ path: join(dir, 'cap.db') }) } });
    try {
      await (await bus.subscribe('deep.*', () => {}, { group: 'billing' })).close();
      const batch = Array.from({ length: 1_000 }, (_, n) => ({ topic: 'deep.a', data: n }));
      for (let i = 0; i * 1_000 <= LAG_COUNT_CAP; i++) await bus.publishMany(batch);
      await bus.publish('deep.b', 'one more');
      await lagReaches(bus, 'deep.*', 'billing', LAG_COUNT_CAP + 1);
    } finally {
      await bus.close();
    }
  });
});

const pgSkip = await postgresSkip();
describe('consumer lag: postgres', { skip: pgSkip }, () => {
  const schema = `lag_${run}`;
  after(async () => {
    const pool = new pg.Pool({ connectionString: PG_URL });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  lagCase('postgres', () => postgres({ connectionString: PG_URL, schema }), (root) => `${root}.*`, (root) => [`${root}.a`, `${root}.b`]);
});

const rSkip = await redisSkip();
describe('consumer lag: redis', { skip: rSkip }, () => {
  const keyPrefix = `omnibus-lag-${run}:`;
  after(() => deleteKeys(keyPrefix));
  lagCase('redis', () => redis({ url: REDIS_URL, keyPrefix }), (root) => `${root}.*`, (root) => [`${root}.a`, `${root}.b`]);

  it('redis: where Redis gives no lag (an unread entry deleted), the unread entries are counted on the server', async () => {
    const topic = `lag${run}xdel.a`;
    const bus = new Bus({ drivers: { redis: redis({ url: REDIS_URL, keyPrefix }) } });
    const raw = new Redis(REDIS_URL);
    try {
      await (await bus.subscribe(topic, () => {}, { group: 'billing' })).close();
      const published = await bus.publishMany([1, 2, 3, 4, 5].map((n) => ({ topic, data: { n } })));
      await raw.xdel(`${keyPrefix}${topic}`, published[2].seq!);
      const [group] = (await raw.call('XINFO', 'GROUPS', `${keyPrefix}${topic}`)) as unknown[][];
      assert.equal(group[group.indexOf('lag') + 1], null, 'Redis no longer says the lag');
      await lagReaches(bus, topic, 'billing', 4);
    } finally {
      await raw.quit();
      await bus.close();
    }
  });
});

const nSkip = await natsSkip();
describe('consumer lag: nats', { skip: nSkip }, () => {
  const streamPrefix = `OMNILAG${run}`;
  after(() => deleteStreams(streamPrefix));
  lagCase('nats', () => nats({ servers: NATS_URL, streamPrefix }), (root) => `${root}.*`, (root) => [`${root}.a`, `${root}.b`]);

  it('nats core mode keeps nothing, so it offers no lag and the bus leaves its groups out', async () => {
    const bus = new Bus({ drivers: { nats: nats({ servers: NATS_URL, mode: 'core' }) } });
    try {
      await bus.subscribe(`core${run}.x`, () => {}, { group: 'billing' });
      assert.deepEqual(await bus.lag(), []);
    } finally {
      await bus.close();
    }
  });
});

const { skip: kSkip, brokers } = await kafkaForTests();
describe('consumer lag: kafka', { skip: kSkip }, () => {
  // One topic over its three partitions: the lag is summed over them.
  lagCase('kafka', () => kafka({ brokers, topicRefreshMs: 500 }), (root) => `${root}.orders`, (root) => [`${root}.orders`]);
});

describe('consumer lag: failures', () => {
  it('a driver that cannot answer gives its group lag undefined with a typed error, reported as a bus error', async () => {
    const bus = new Bus({ drivers: { memory: memoryWithLag(() => Promise.reject(new Error('broker on fire'))) } });
    const errors: unknown[] = [];
    bus.on('error', ({ error }) => errors.push(error));
    try {
      await bus.subscribe('orders.*', () => {}, { group: 'billing' });
      const [figure] = await bus.lag();
      assert.equal(figure.lag, undefined);
      assert.ok(figure.error instanceof ConnectionError);
      assert.match(figure.error.message, /lag of group 'billing' on 'orders\.\*': broker on fire/);
      assert.equal(errors[0], figure.error);
    } finally {
      await bus.close();
    }
  });

  it('a driver that does not answer within timeoutMs fails its group, not the call', async () => {
    const bus = new Bus({ drivers: { memory: memoryWithLag(() => new Promise<number>(() => {})) } });
    bus.on('error', () => {});
    try {
      await bus.subscribe('orders.*', () => {}, { group: 'billing' });
      const [figure] = await bus.lag({ timeoutMs: 50 });
      assert.equal(figure.lag, undefined);
      assert.match(figure.error!.message, /did not report the lag of group 'billing' on 'orders\.\*' within 50 ms/);
    } finally {
      await bus.close();
    }
  });

  it(`remembers at most ${MAX_LAG_GROUPS} groups: the one closed longest ago goes first, a group with an open subscription never`, async () => {
    const asked: string[] = [];
    const bus = new Bus({ drivers: { memory: memoryWithLag(async ({ group }) => (asked.push(group), 0)) } });
    const groups = async () => {
      asked.length = 0;
      await bus.lag();
      return new Set(asked);
    };
    try {
      await bus.subscribe('orders.*', () => {}, { group: 'payments' }); // stays open
      for (let i = 0; i < MAX_LAG_GROUPS; i++) await (await bus.subscribe('orders.*', () => {}, { group: `g${i}` })).close();
      let known = await groups();
      assert.equal(known.size, MAX_LAG_GROUPS);
      assert.ok(known.has('payments') && !known.has('g0') && known.has(`g${MAX_LAG_GROUPS - 1}`), 'g0 closed longest ago and went');
      // Reopened and closed again, g1 is the newest to forget; g2 goes next.
      await (await bus.subscribe('orders.*', () => {}, { group: 'g1' })).close();
      await (await bus.subscribe('orders.*', () => {}, { group: 'fresh' })).close();
      known = await groups();
      assert.ok(known.has('payments') && known.has('g1') && known.has('fresh') && !known.has('g2'));
    } finally {
      await bus.close();
    }
  });

  it('lag on a closed bus is a ClosedError', async () => {
    const bus = new Bus({ drivers: { memory: memoryWithLag(async () => 0) } });
    await bus.close();
    await assert.rejects(bus.lag(), { name: 'ClosedError' });
  });
});
