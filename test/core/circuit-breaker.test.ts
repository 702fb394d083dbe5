// The circuit breaker pauses a subscription whose handler keeps failing: what arrives while it
// is open waits, charged no attempt and never dead-lettered; one probe per pause decides
// whether it resumes, and once it does everything is delivered, once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Bus } from '../../src/core/bus.js';
import type { CircuitClosed, CircuitOpen, DeliveryFailed } from '../../src/core/bus-events.js';
import type { Driver } from '../../src/core/driver.js';
import { ConfigurationError } from '../../src/core/errors.js';
import type { CircuitStats } from '../../src/core/stats.js';
import { memory } from '../../src/drivers/memory/index.js';
import { redis } from '../../src/drivers/redis/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { eventually } from '../../src/testing/wait.js';
import { deleteKeys, REDIS_URL, redisSkip } from '../support/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-circuit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const keyPrefix = `omnibus-circuit-${randomUUID().slice(0, 8)}:`;
const redisSkipped = await redisSkip();
if (redisSkipped === false) after(() => deleteKeys(keyPrefix));

type Call = { kind: 'call'; id: string; attempt: number; down: boolean };
type Entry = Call | { kind: 'open' | 'closed' };

/** While the circuit is not closed, at most one handler call (the probe) between one circuit event and the next. */
function assertOnlyProbes(timeline: Entry[]): void {
  let sinceEvent = 0;
  let open = false;
  for (const entry of timeline) {
    if (entry.kind !== 'call') {
      open = entry.kind === 'open';
      sinceEvent = 0;
    } else if (open) assert.ok(++sinceEvent <= 1, 'only the probe reaches the handler while the circuit is not closed');
  }
}

for (const [name, makeDriver, group, skip] of [
  ['memory', () => memory(), undefined, false],
  ['sqlite, in a group', (unique: string) => sqlite({ path: join(dir, `${unique}.db`) }), 'billing', false],
  ['redis, in a group', (unique: string) => redis({ url: REDIS_URL, keyPrefix: `${keyPrefix}${unique}:` }), 'billing', redisSkipped],
] as Array<[string, (unique: string) => Driver, string | undefined, string | false]>) {
  describe(`circuit breaker on ${name}`, { skip }, () => {
    let files = 0;
    const fresh = () => new Bus({ drivers: { d: makeDriver(String(files++)) } });
    const key = group === undefined ? 'orders.*' : `orders.*#${group}`;

    it('opens after failures in a row, holds what arrives while open, re-opens on a failed probe, and delivers everything once after a good one', async () => {
      const bus = fresh();
      const timeline: Entry[] = [];
      const opened: Array<CircuitOpen & { stats?: CircuitStats }> = [];
      const closed: CircuitClosed[] = [];
      const failed: DeliveryFailed[] = [];
      const succeeded = new Map<string, number[]>();
      let down = true;
      bus.on('circuitOpen', (event) => {
        timeline.push({ kind: 'open' });
        opened.push({ ...event, stats: bus.stats().byPattern[key].circuit });
      });
      bus.on('circuitClosed', (event) => {
        timeline.push({ kind: 'closed' });
        closed.push(event);
      });
      bus.on('deliveryFailed', (event) => failed.push(event));
      try {
        // A pause longer than the ack deadline: held messages must not lapse into redeliveries.
        await bus.subscribe(
          'orders.*',
          (message) => {
            timeline.push({ kind: 'call', id: message.id, attempt: message.attempt, down });
            if (down) throw new Error('payments are down');
            succeeded.set(message.id, [...(succeeded.get(message.id) ?? []), message.attempt]);
          },
          { group, maxAttempts: 20, backoff: { initialMs: 5, maxMs: 5 }, ackDeadlineMs: 100, circuitBreaker: { failures: 3, pauseMs: 250 } },
        );
        const before = await Promise.all([1, 2, 3].map((n) => bus.publish('orders.placed', { n })));
        await eventually(() => opened.length === 1, 'the circuit to open');
        const [first] = opened;
        assert.equal(first.pattern, 'orders.*');
        assert.equal(first.group, group);
        assert.equal(first.failures, 3);
        assert.equal((first.error as Error).message, 'payments are down');
        assert.ok(first.resumeAt >= Date.now() + 100, 'the probe waits for pauseMs');
        assert.deepEqual(first.stats, { state: 'open', opened: 1 });

        const whileOpen = await Promise.all([4, 5, 6, 7, 8].map((n) => bus.publish('orders.placed', { n })));
        await eventually(() => opened.length === 2, 'the failed probe to re-open the circuit');
        assert.equal(opened[1].failures, 4);
        assert.deepEqual(opened[1].stats, { state: 'open', opened: 2 });
        down = false;
        await eventually(() => closed.length === 1, 'the next probe to close the circuit');
        assert.equal(closed[0].failures, 4);
        assert.ok(closed[0].openMs >= 400, 'open for two pauses');
        const ids = [...before, ...whileOpen].map((result) => result.id);
        await eventually(() => ids.every((id) => succeeded.has(id)), 'every message to be handled');

        assertOnlyProbes(timeline);
        const failedCalls = timeline.filter((entry): entry is Call => entry.kind === 'call' && entry.down);
        assert.equal(failedCalls.length, 4, 'three failures and one failed probe');
        for (const id of ids) {
          // Once each, and charged only for the calls that really failed.
          const charged = failedCalls.filter((call) => call.id === id).length;
          assert.deepEqual(succeeded.get(id), [charged + 1], `message ${id}`);
        }
        assert.equal(failed.length, 0);
        const stats = bus.stats().byPattern[key];
        assert.equal(stats.deadLettered, 0);
        assert.equal(stats.retried, 4);
        assert.equal(stats.acked, 8);
        assert.equal(stats.delivered, 8 + 4, 'each message handed over once, plus one redelivery per failure');
        assert.deepEqual(stats.circuit, { state: 'closed', opened: 2 });
      } finally {
        await bus.close();
      }
    });

    it('keeps per-key order through a pause with concurrent handlers', async () => {
      const bus = fresh();
      const timeline: Entry[] = [];
      const done: string[] = [];
      let down = true;
      let closed = 0;
      bus.on('circuitOpen', () => {
        timeline.push({ kind: 'open' });
        down = false;
      });
      bus.on('circuitClosed', () => {
        timeline.push({ kind: 'closed' });
        closed++;
      });
      try {
        await bus.subscribe(
          'orders.*',
          (message) => {
            timeline.push({ kind: 'call', id: message.id, attempt: message.attempt, down });
            if (down) throw new Error('down');
            done.push(message.id);
          },
          { group, concurrency: 3, backoff: { initialMs: 5, maxMs: 5 }, circuitBreaker: { failures: 3, pauseMs: 20 } },
        );
        // The second 'a' waits for the first, which is still settling when the circuit opens.
        const keys = ['a', 'a', 'b', 'c', 'a', 'b'];
        const published = await bus.publishMany(keys.map((key, n) => ({ topic: 'orders.placed', data: { n }, key })));
        const ids = published.map((result) => result.id);
        await eventually(() => closed === 1 && ids.every((id) => done.includes(id)), 'the circuit to close and every message to be handled');
        assertOnlyProbes(timeline);
        assert.equal(done.length, ids.length, 'each message once');
        const failedIds = new Set(timeline.filter((entry): entry is Call => entry.kind === 'call' && entry.down).map((call) => call.id));
        for (const key of new Set(keys)) {
          // A retried message comes back later; the ones never tried keep their key's order.
          const untried = ids.filter((id, n) => keys[n] === key && !failedIds.has(id));
          assert.deepEqual(done.filter((id) => untried.includes(id)), untried, `key ${key}`);
        }
      } finally {
        await bus.close();
      }
    });

    it('does not open for failures further apart than windowMs', async () => {
      const bus = fresh();
      let opened = 0;
      bus.on('circuitOpen', () => opened++);
      const attempts: number[] = [];
      try {
        // Retries wait at least 20 ms (half of initialMs), so no two failures fit in 10 ms.
        await bus.subscribe(
          'orders.*',
          (message) => {
            attempts.push(message.attempt);
            if (message.attempt < 4) throw new Error('flaky');
          },
          { group, backoff: { initialMs: 40, maxMs: 40 }, circuitBreaker: { failures: 2, windowMs: 10, pauseMs: 60_000 } },
        );
        await bus.publish('orders.placed', {});
        await eventually(() => attempts.length === 4, 'the fourth attempt');
        assert.equal(opened, 0);
        assert.deepEqual(bus.stats().byPattern[key].circuit, { state: 'closed', opened: 0 });
      } finally {
        await bus.close();
      }
    });

    it('close() while open returns at once instead of waiting out the pause', async () => {
      const bus = fresh();
      let opened = 0;
      bus.on('circuitOpen', () => opened++);
      await bus.subscribe(
        'orders.*',
        () => {
          throw new Error('down');
        },
        { group, backoff: { initialMs: 5, maxMs: 5 }, circuitBreaker: { failures: 1, pauseMs: 60_000 } },
      );
      await bus.publish('orders.placed', {});
      await eventually(() => opened === 1, 'the circuit to open');
      const started = Date.now();
      await bus.close();
      assert.ok(Date.now() - started < 5_000);
    });
  });
}

describe('circuit breaker options', () => {
  for (const [options, named] of [
    [{ failures: 0 }, 'circuitBreaker.failures'],
    [{ failures: 2.5 }, 'circuitBreaker.failures'],
    [{ windowMs: -1 }, 'circuitBreaker.windowMs'],
    [{ windowMs: 0 }, 'circuitBreaker.windowMs'],
    [{ pauseMs: -5 }, 'circuitBreaker.pauseMs'],
    [{ pauseMs: Infinity }, 'circuitBreaker.pauseMs'],
  ] as const) {
    it(`refuses ${JSON.stringify(options)} with a ConfigurationError naming ${named}`, async () => {
      const bus = new Bus({ drivers: { d: memory() } });
      try {
        await assert.rejects(
          bus.subscribe('orders.*', () => {}, { circuitBreaker: options }),
          (error) => error instanceof ConfigurationError && error.message.includes(named) && error.message.includes("'orders.*'"),
        );
        assert.deepEqual(bus.stats().byPattern, {});
      } finally {
        await bus.close();
      }
    });
  }
});
