// The delivery contract in executable form. Every driver, ours or a user's, runs these
// cases; a case a driver's capabilities do not claim is skipped with the reason.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Bus } from '../core/bus.js';
import { orderingCovers } from '../core/capabilities.js';
import type { DeliveryFailed } from '../core/bus-events.js';
import type { Capabilities, Driver } from '../core/driver.js';
import { ClosedError, ConnectionError, InvalidTopicError, PayloadTooLargeError, RefusedError, ValidationError } from '../core/errors.js';
import { defineEvent } from '../core/event.js';
import { HEADER, type Message } from '../core/message.js';
import type { SubscribeOptions } from '../core/subscription.js';
import { eventually, sleep } from './wait.js';

export interface ConformanceOptions {
  /** How long a case waits for deliveries. Default 10 s. */
  timeoutMs?: number;
  /** The ack deadline used by the deadline cases. Default 1,000 ms. */
  ackDeadlineMs?: number;
  /** A driver of this kind pointed where nothing listens, for the connection-failure case. Default: none (skipped). */
  unreachable?: DriverFactory;
  /** A driver of this kind the broker refuses (bad credentials, a missing database), for the refusal case. Default: none (skipped). */
  refused?: DriverFactory;
}

/** Keeps the failure cases' expected errors off the console. */
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

/** A fresh driver on the same backend each call, so persistence cases can close and reopen. */
export type DriverFactory = () => Driver | Promise<Driver>;

type Case = (context: CaseContext) => Promise<void>;

interface CaseContext {
  factory: DriverFactory;
  options: ConformanceOptions;
  /** A bus over a fresh driver; closed after the case. */
  bus(): Promise<Bus>;
  /** A topic prefix no other case or run uses. */
  ns: string;
  timeoutMs: number;
  ackDeadlineMs: number;
  capabilities: Capabilities;
}

/** The capabilities that are flags: a case needs them claimed. */
type Flag = { [K in keyof Capabilities]: Capabilities[K] extends boolean ? K : never }[keyof Capabilities];

/**
 * What a case needs of a driver: flags it must claim; the order it must promise at least
 * ('key' is met by 'key' or 'global'); a payload limit, to test the limit itself.
 */
type Needs = { [K in Flag]?: true } & { ordering?: 'key' | 'global'; maxPayloadBytes?: 'finite' };

interface CaseDefinition {
  name: string;
  needs?: Needs;
  /** A failing driver the case needs from the options. */
  given?: 'unreachable' | 'refused';
  run: Case;
}

/** Why a driver with these capabilities cannot run a case, in words; false when it can. */
function skipReason(needs: Needs, capabilities: Capabilities): string | false {
  const reasons: string[] = [];
  const flags = (Object.keys(needs) as Array<keyof Needs>).filter((name) => needs[name] === true) as Flag[];
  const missing = flags.filter((flag) => !capabilities[flag]);
  if (missing.length > 0) reasons.push(`does not claim ${missing.join(', ')}`);
  if (needs.ordering !== undefined && !orderingCovers(capabilities.ordering, needs.ordering)) {
    const accepted = needs.ordering === 'key' ? "'key' or 'global'" : `'${needs.ordering}'`;
    reasons.push(`promises ordering '${capabilities.ordering}' where the case needs ${accepted}`);
  }
  if (needs.maxPayloadBytes === 'finite' && !Number.isFinite(capabilities.maxPayloadBytes)) {
    reasons.push('declares no payload limit to test');
  }
  return reasons.length > 0 ? `the driver ${reasons.join(' and ')}` : false;
}

function collector<T = unknown>() {
  const messages: Message<T>[] = [];
  return { messages, handler: (message: Message<T>) => void messages.push(message) };
}

/** A message of the global-order cases, named by its publisher and its place in that publisher's sequence. */
type Labelled = { label: string };

/**
 * Publishers all at once, each awaiting its own publishes (single ones and batches) across
 * three topics and three keys, and on each subscriber bus a subscription with concurrency 1;
 * the first bus also has a slow one with a small buffer, the last a narrower pattern. Every
 * subscription must get every message in one order, the same for all, that keeps each
 * publisher's order and puts a message whose publish resolved before another's began first.
 * Resolves to that order.
 */
async function checkGlobalOrder(publishers: Bus[], subscribers: Bus[], ns: string, timeoutMs: number): Promise<Message<Labelled>[]> {
  const topics = [`${ns}.global.a`, `${ns}.global.b.c`, `${ns}.global.d`];
  const keys = ['k0', 'k1', undefined];
  const subscriptions: Array<{ name: string; messages: Message<Labelled>[] }> = [];
  for (const [i, b] of subscribers.entries()) {
    const all = collector<Labelled>();
    await b.subscribe(`${ns}.global.>`, all.handler);
    subscriptions.push({ name: `the subscription on bus ${i}`, messages: all.messages });
  }
  const slow = collector<Labelled>();
  await subscribers[0].subscribe(`${ns}.global.>`, async (message: Message<Labelled>) => {
    slow.handler(message);
    await sleep(0);
  }, { bufferSize: 4 });
  subscriptions.push({ name: 'the slow subscription', messages: slow.messages });
  const narrow = collector<Labelled>();
  await subscribers[subscribers.length - 1].subscribe(`${ns}.global.b.*`, narrow.handler);

  // A clock that ticks at every publish call and every resolution: "resolved before another began" is a comparison of ticks.
  let clock = 0;
  const sent = new Map<string, { publisher: number; index: number; called: number; resolved: number }>();
  await Promise.all(publishers.map(async (b, publisher) => {
    let index = 0;
    for (let step = 0; step < 30; step++) {
      const batch = Array.from({ length: step % 5 === 4 ? 3 : 1 }, () => {
        const i = index++;
        return { i, topic: topics[(publisher + i) % 3], data: { label: `p${publisher}.${i}` }, key: keys[(publisher + 2 * i) % 3] };
      });
      const called = ++clock;
      if (batch.length === 1) await b.publish(batch[0].topic, batch[0].data, { key: batch[0].key });
      else await b.publishMany(batch.map(({ topic, data, key }) => ({ topic, data, key })));
      const resolved = ++clock;
      for (const { i, data } of batch) sent.set(data.label, { publisher, index: i, called, resolved });
    }
  }));

  const total = sent.size;
  await eventually(() => subscriptions.every((s) => s.messages.length >= total), `all ${total} messages on every subscription`, timeoutMs);
  const [reference] = subscriptions;
  const order = reference.messages.map((m) => m.data.label);
  assert.equal(new Set(order).size, total, 'every message delivered once');
  const position = new Map(order.map((label, i) => [label, i]));
  for (const [first, a] of sent) {
    for (const [second, b] of sent) {
      const samePublisher = a.publisher === b.publisher && a.index < b.index;
      if ((samePublisher || a.resolved < b.called) && position.get(first)! > position.get(second)!) {
        const why = samePublisher ? 'one publisher published it first' : 'its publish resolved before the other began';
        assert.fail(`${reference.name} got ${second} before ${first}, though ${why}`);
      }
    }
  }
  for (const s of subscriptions.slice(1)) assert.deepEqual(s.messages.map((m) => m.data.label), order, `${s.name} got another order`);
  const narrowed = reference.messages.filter((m) => m.topic === topics[1]).map((m) => m.data.label);
  await eventually(() => narrow.messages.length >= narrowed.length, `the ${narrowed.length} messages on ${topics[1]}`, timeoutMs);
  assert.deepEqual(narrow.messages.map((m) => m.data.label), narrowed, 'the narrower pattern got another order');
  return reference.messages;
}

const cases: CaseDefinition[] = [
  {
    name: 'a broker that cannot be reached fails publish and subscribe with a retriable ConnectionError',
    given: 'unreachable',
    async run({ options, ns }) {
      const driver = await options.unreachable!();
      const b = new Bus({ drivers: { [driver.name]: driver }, logger: quiet });
      b.on('error', () => {});
      try {
        for (const attempt of [() => b.publish(`${ns}.down`, 1), () => b.subscribe(`${ns}.down`, () => {})]) {
          await assert.rejects(attempt(), (error) => {
            assert.ok(error instanceof ConnectionError, `got ${(error as Error).name}: ${(error as Error).message}`);
            assert.equal(error.retriable, true);
            return true;
          });
        }
      } finally {
        await b.close();
      }
    },
  },
  {
    name: 'a broker that refuses us fails publish with a RefusedError, not retriable',
    given: 'refused',
    async run({ options, ns }) {
      const driver = await options.refused!();
      const b = new Bus({ drivers: { [driver.name]: driver }, logger: quiet });
      b.on('error', () => {});
      try {
        await assert.rejects(b.publish(`${ns}.refused`, 1), (error) => {
          assert.ok(error instanceof RefusedError, `got ${(error as Error).name}: ${(error as Error).message}`);
          assert.equal(error.retriable, false);
          return true;
        });
      } finally {
        await b.close();
      }
    },
  },
  {
    name: 'delivers a published message with its id, data, headers, key and time',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.orders.placed`, handler);
      const before = Date.now();
      const result = await b.publish(`${ns}.orders.placed`, { total: 42, items: ['a'] }, {
        id: 'order-1',
        key: 'customer-7',
        headers: { 'x-tenant': 'acme' },
      });
      assert.equal(result.id, 'order-1');
      await eventually(() => messages.length === 1, 'one delivery', timeoutMs);
      const [message] = messages;
      assert.equal(message.id, 'order-1');
      assert.equal(message.topic, `${ns}.orders.placed`);
      assert.deepEqual(message.data, { total: 42, items: ['a'] });
      assert.equal(message.headers['x-tenant'], 'acme');
      assert.equal(message.key, 'customer-7');
      assert.equal(message.attempt, 1);
      assert.ok(message.time >= before - 1000 && message.time <= Date.now() + 1000, 'time is the publish time');
    },
  },
  {
    name: 'generates UUIDv7 ids when the publisher gives none',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.ids`, handler);
      const first = await b.publish(`${ns}.ids`, 1);
      const second = await b.publish(`${ns}.ids`, 2);
      assert.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(second.id > first.id, 'later ids sort after earlier ones');
      await eventually(() => messages.length === 2, 'two deliveries', timeoutMs);
      assert.deepEqual(messages.map((m) => m.id), [first.id, second.id]);
    },
  },
  {
    name: 'delivers each topic only to subscriptions on it, across many topics',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const topics = ['alpha', 'beta', 'gamma'].map((t) => `${ns}.${t}`);
      const received = topics.map(() => collector());
      for (const [i, topic] of topics.entries()) await b.subscribe(topic, received[i].handler);
      for (const [i, topic] of topics.entries()) {
        for (let n = 0; n <= i; n++) await b.publish(topic, { topic: i, n });
      }
      await eventually(() => received.every((r, i) => r.messages.length === i + 1), 'every topic delivered', timeoutMs);
      await sleep(100);
      for (const [i, r] of received.entries()) {
        assert.equal(r.messages.length, i + 1);
        assert.ok(r.messages.every((m) => m.topic === topics[i]));
      }
    },
  },
  {
    name: "'*' matches exactly one token",
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.a.*.c`, handler);
      for (const topic of ['a.b.c', 'a.x.c', 'a.b.b.c', 'a.c', 'a.b.c.d', 'x.b.c', 'a.b.x']) {
        await b.publish(`${ns}.${topic}`, topic);
      }
      await eventually(() => messages.length >= 2, 'two matching topics', timeoutMs);
      await sleep(200);
      assert.deepEqual(messages.map((m) => m.data).sort(), ['a.b.c', 'a.x.c']);
    },
  },
  {
    name: "'>' matches one or more trailing tokens",
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.a.>`, handler);
      for (const topic of ['a', 'a.b', 'a.b.c', 'a.b.c.d', 'b.a', 'ab.c']) await b.publish(`${ns}.${topic}`, topic);
      await eventually(() => messages.length >= 3, 'three matching topics', timeoutMs);
      await sleep(200);
      assert.deepEqual(messages.map((m) => m.data).sort(), ['a.b', 'a.b.c', 'a.b.c.d']);
    },
  },
  {
    name: 'a concrete pattern matches only its own topic',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.a.b`, handler);
      for (const topic of ['a.b', 'a.b.c', 'a', 'a.bb']) await b.publish(`${ns}.${topic}`, topic);
      await eventually(() => messages.length >= 1, 'the exact topic', timeoutMs);
      await sleep(200);
      assert.deepEqual(messages.map((m) => m.data), ['a.b']);
    },
  },
  {
    name: 'refuses invalid topics and patterns with InvalidTopicError naming the token',
    async run({ bus, ns }) {
      const b = await bus();
      await assert.rejects(b.publish(`${ns}..x`, 1), (error: InvalidTopicError) => {
        assert.ok(error instanceof InvalidTopicError);
        assert.match(error.message, /empty token at position 2/);
        return true;
      });
      await assert.rejects(b.publish(`${ns}.a.*`, 1), /wildcard '\*'/);
      await assert.rejects(b.publish(`${ns}.a b`, 1), (error: InvalidTopicError) => error.token === 'a b');
      await assert.rejects(b.subscribe(`${ns}.>.a`, () => {}), /'>' may only be the last token/);
      await assert.rejects(b.subscribe('', () => {}), InvalidTopicError);
    },
  },
  {
    name: 'keeps per-key order under concurrent publishers',
    needs: { ordering: 'key' },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector<{ key: string; n: number }>();
      await b.subscribe(`${ns}.keyed`, handler, { concurrency: 4 });
      const keys = ['k1', 'k2', 'k3', 'k4'];
      const perKey = 100;
      await Promise.all(
        keys.map(async (key) => {
          for (let n = 0; n < perKey; n++) await b.publish(`${ns}.keyed`, { key, n }, { key });
        }),
      );
      await eventually(() => messages.length === keys.length * perKey, 'every keyed message', timeoutMs);
      for (const key of keys) {
        const order = messages.filter((m) => m.key === key).map((m) => m.data.n);
        assert.deepEqual(order, [...Array(perKey).keys()], `order of ${key}`);
      }
    },
  },
  {
    name: 'delivers one order, the publish order, to every subscriber, from concurrent publishers across topics and keys',
    needs: { ordering: 'global' },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      await checkGlobalOrder([b, b, b, b], [b, b], ns, timeoutMs);
    },
  },
  {
    // Persistent drivers share one backend between the factory's drivers, as separate processes would.
    name: 'keeps one global order across several drivers publishing and subscribing on one backend',
    needs: { ordering: 'global', persistent: true },
    async run({ bus, ns, timeoutMs }) {
      const buses = [await bus(), await bus(), await bus()];
      await checkGlobalOrder([...buses, ...buses], buses, ns, timeoutMs);
    },
  },
  {
    name: "replays from 'earliest' in the global order it delivered live, with the same seqs",
    needs: { ordering: 'global', replay: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const live = await checkGlobalOrder([b, b, b, b], [b], ns, timeoutMs);
      const replayed = collector<Labelled>();
      await b.subscribe(`${ns}.global.>`, replayed.handler, { from: 'earliest' });
      await eventually(() => replayed.messages.length >= live.length, `the ${live.length} messages replayed`, timeoutMs);
      const order = (messages: Message<Labelled>[]) => messages.map((m) => `${m.data.label} at ${m.seq}`);
      assert.deepEqual(order(replayed.messages), order(live));
    },
  },
  {
    name: 'delivers every message to each of many concurrent subscribers',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const subscribers = Array.from({ length: 10 }, () => collector());
      for (const s of subscribers) await b.subscribe(`${ns}.fan.>`, s.handler);
      const count = 50;
      await Promise.all(Array.from({ length: count }, (_, n) => b.publish(`${ns}.fan.out`, n)));
      await eventually(() => subscribers.every((s) => s.messages.length >= count), 'every subscriber', timeoutMs);
      await sleep(100);
      for (const s of subscribers) {
        assert.deepEqual(s.messages.map((m) => m.data).sort((x, y) => Number(x) - Number(y)), [...Array(count).keys()]);
      }
    },
  },
  {
    name: 'a group gives each message to exactly one member and spreads the load',
    needs: { groups: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const members = Array.from({ length: 3 }, () => collector());
      // A little work per message, as real handlers do, so no member drains the queue alone.
      for (const m of members) {
        await b.subscribe(`${ns}.work`, async (message) => {
          m.handler(message);
          await sleep(1);
        }, { group: 'workers' });
      }
      const count = 1000;
      const batch = Array.from({ length: count }, (_, n) => ({ topic: `${ns}.work`, data: n }));
      for (let i = 0; i < count; i += 100) await b.publishMany(batch.slice(i, i + 100));
      const total = () => members.reduce((sum, m) => sum + m.messages.length, 0);
      await eventually(() => total() >= count, `${count} deliveries`, timeoutMs * 3);
      await sleep(200);
      const all = members.flatMap((m) => m.messages.map((message) => message.data as number));
      assert.equal(all.length, count, 'no message delivered twice');
      assert.equal(new Set(all).size, count, 'every message delivered');
      for (const [i, m] of members.entries()) {
        assert.ok(m.messages.length >= count * 0.05, `member ${i} got ${m.messages.length} of ${count}`);
      }
    },
  },
  {
    name: 'a group hands over to the remaining members when one closes mid-stream, losing nothing',
    needs: { groups: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const seen = new Set<number>();
      const slow = async (message: Message) => {
        await sleep(2);
        seen.add(message.data as number);
      };
      const leaving = await b.subscribe(`${ns}.handover`, slow, { group: 'g', concurrency: 2, bufferSize: 2 });
      await b.subscribe(`${ns}.handover`, slow, { group: 'g' });
      await b.subscribe(`${ns}.handover`, slow, { group: 'g' });
      const count = 300;
      const publishing = (async () => {
        for (let n = 0; n < count; n++) await b.publish(`${ns}.handover`, n);
      })();
      await eventually(() => seen.size >= 30, 'the first messages', timeoutMs);
      await leaving.close();
      await publishing;
      await eventually(() => seen.size === count, `all ${count} messages after the member left`, timeoutMs * 2);
    },
  },
  {
    name: 'close() hands what a group member never started to the others at once, and never redelivers what it acked',
    needs: { groups: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const topic = `${ns}.giveback`;
      // Well above how long a hand-back may take, so waiting out the deadline cannot pass the case.
      const ackDeadlineMs = 4_000;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const firstSeen: number[] = [];
      const leaving = await b.subscribe(topic, async (message) => {
        firstSeen.push(message.data as number);
        await gate;
      }, { group: 'g', bufferSize: 100, ackDeadlineMs });
      const count = 20;
      await b.publishMany(Array.from({ length: count }, (_, n) => ({ topic, data: n })));
      await eventually(() => firstSeen.length === 1, 'the first member to start a message', timeoutMs);
      const seen: number[] = [];
      await b.subscribe(topic, (message) => void seen.push(message.data as number), { group: 'g', ackDeadlineMs });
      const closedAt = Date.now();
      const closing = leaving.close();
      release();
      await closing;
      const started = firstSeen[0];
      const rest = Array.from({ length: count }, (_, n) => n).filter((n) => !firstSeen.includes(n));
      await eventually(() => rest.every((n) => seen.includes(n)), `the ${rest.length} messages the leaving member never started`, ackDeadlineMs - 1_000);
      // Past the ack deadline: nothing acked by the member that left comes back.
      await sleep(Math.max(0, closedAt + ackDeadlineMs + 1_000 - Date.now()));
      assert.equal(firstSeen.length, 1, 'the leaving member started nothing after close');
      assert.ok(!seen.includes(started), `message ${started}, acked by the member that left, was delivered again`);
      assert.equal(new Set(seen).size, seen.length, 'nothing delivered twice to the remaining member');
    },
  },
  {
    name: 'redelivers on nack with attempt counting up',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const attempts: number[] = [];
      await b.subscribe(`${ns}.nack`, async (message) => {
        attempts.push(message.attempt);
        if (message.attempt < 3) await message.nack({ delayMs: 10 });
      }, { ack: 'manual' });
      await b.publish(`${ns}.nack`, 'x');
      await eventually(() => attempts.length === 3, 'three attempts', timeoutMs);
      await sleep(100);
      assert.deepEqual(attempts, [1, 2, 3]);
    },
  },
  {
    name: 'retries a throwing handler with backoff, attempt counting up',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const attempts: Array<[number, number]> = [];
      await b.subscribe(`${ns}.throws`, (message) => {
        attempts.push([message.attempt, Date.now()]);
        if (message.attempt < 3) throw new Error('not yet');
      }, { backoff: { initialMs: 50, maxMs: 1000 } });
      await b.publish(`${ns}.throws`, 'x');
      await eventually(() => attempts.length === 3, 'three attempts', timeoutMs);
      await sleep(100);
      assert.deepEqual(attempts.map(([attempt]) => attempt), [1, 2, 3]);
      assert.ok(attempts[1][1] - attempts[0][1] >= 20, 'waited before the first retry');
      const stats = b.stats();
      assert.equal(stats.retried, 2);
      assert.equal(stats.acked, 1);
    },
  },
  {
    name: 'dead-letters after maxAttempts with headers naming topic, error and attempts',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const dead = collector();
      const failures: DeliveryFailed[] = [];
      b.on('deliveryFailed', (event) => failures.push(event));
      await b.subscribe(`${ns}.dlq`, dead.handler);
      let calls = 0;
      await b.subscribe(`${ns}.fails`, () => {
        calls++;
        throw new Error('card declined');
      }, { maxAttempts: 3, backoff: { initialMs: 5, maxMs: 20 }, deadLetter: `${ns}.dlq` });
      await b.publish(`${ns}.fails`, { order: 9 }, { key: 'k' });
      await eventually(() => dead.messages.length === 1, 'the dead letter', timeoutMs);
      await sleep(100);
      assert.equal(calls, 3);
      const [letter] = dead.messages;
      assert.deepEqual(letter.data, { order: 9 });
      assert.equal(letter.headers[HEADER.originalTopic], `${ns}.fails`);
      assert.equal(letter.headers[HEADER.error], 'card declined');
      assert.equal(letter.headers[HEADER.attempts], '3');
      assert.equal(failures.length, 1);
      assert.equal(failures[0].attempts, 3);
      assert.equal(failures[0].deadLetter, `${ns}.dlq`);
      assert.equal(b.stats().deadLettered, 1);
    },
  },
  {
    name: 'reject() dead-letters at once without retrying',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const dead = collector();
      await b.subscribe(`${ns}.dead`, dead.handler);
      const attempts: number[] = [];
      await b.subscribe(`${ns}.poison`, async (message) => {
        attempts.push(message.attempt);
        await message.reject('malformed order');
      }, { deadLetter: `${ns}.dead` });
      await b.publish(`${ns}.poison`, 'bad');
      await eventually(() => dead.messages.length === 1, 'the dead letter', timeoutMs);
      await sleep(100);
      assert.deepEqual(attempts, [1]);
      assert.equal(dead.messages[0].headers[HEADER.error], 'malformed order');
    },
  },
  {
    name: 'a message failing its event schema goes to the dead-letter path, never to the handler',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const schema = {
        '~standard': {
          version: 1 as const,
          vendor: 'conformance',
          validate: (value: unknown) =>
            typeof (value as { n?: unknown })?.n === 'number'
              ? { value: value as { n: number } }
              : { issues: [{ message: 'n must be a number', path: ['n'] }] },
        },
      };
      const event = defineEvent(`${ns}.typed`, schema);
      const dead = collector();
      await b.subscribe(`${ns}.typed-dlq`, dead.handler);
      const handled: unknown[] = [];
      await b.subscribe(event, (message) => void handled.push(message.data), { deadLetter: `${ns}.typed-dlq` });
      await assert.rejects(b.publish(event, { n: 'one' } as never), ValidationError);
      await b.publish(`${ns}.typed`, { n: 'raw' });
      await b.publish(event, { n: 1 });
      await eventually(() => dead.messages.length === 1 && handled.length === 1, 'one handled, one dead', timeoutMs);
      assert.deepEqual(handled, [{ n: 1 }]);
      assert.match(dead.messages[0].headers[HEADER.error], /n must be a number/);
    },
  },
  {
    name: 'a throwing handler never stops delivery of other messages',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const good: number[] = [];
      b.on('deliveryFailed', () => {});
      await b.subscribe(`${ns}.mixed`, (message) => {
        const n = message.data as number;
        if (n % 3 === 0) throw new Error(`bad ${n}`);
        good.push(n);
      }, { maxAttempts: 1 });
      for (let n = 0; n < 30; n++) await b.publish(`${ns}.mixed`, n);
      await eventually(() => good.length === 20, 'the 20 good messages', timeoutMs);
      assert.deepEqual(good, [...Array(30).keys()].filter((n) => n % 3 !== 0));
    },
  },
  {
    name: 'redelivers a message left unacked past the ack deadline',
    needs: { ackDeadline: true },
    async run({ bus, ns, timeoutMs, ackDeadlineMs }) {
      const b = await bus();
      const attempts: number[] = [];
      await b.subscribe(`${ns}.deadline`, async (message) => {
        attempts.push(message.attempt);
        if (message.attempt > 1) await message.ack();
      }, { ack: 'manual', ackDeadlineMs });
      await b.publish(`${ns}.deadline`, 'x');
      await eventually(() => attempts.length === 2, 'the redelivery', timeoutMs + ackDeadlineMs * 3);
      await sleep(ackDeadlineMs * 1.5);
      assert.deepEqual(attempts, [1, 2]);
    },
  },
  {
    name: 'inProgress() extends the ack deadline for slow work',
    needs: { ackDeadline: true },
    async run({ bus, ns, timeoutMs, ackDeadlineMs }) {
      const b = await bus();
      const attempts: number[] = [];
      await b.subscribe(`${ns}.slow`, async (message) => {
        attempts.push(message.attempt);
        for (let i = 0; i < 5; i++) {
          await sleep(ackDeadlineMs / 2);
          await message.inProgress();
        }
        await message.ack();
      }, { ack: 'manual', ackDeadlineMs });
      await b.publish(`${ns}.slow`, 'x');
      await eventually(() => attempts.length >= 1, 'the delivery', timeoutMs);
      await sleep(ackDeadlineMs * 3.5);
      assert.deepEqual(attempts, [1]);
    },
  },
  {
    name: 'a group closed mid-stream resumes where it left off, losing nothing',
    needs: { groups: true, persistent: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const seen = new Set<number>();
      const handler = async (message: Message) => {
        seen.add(message.data as number);
      };
      const first = await b.subscribe(`${ns}.resume`, handler, { group: 'resumer' });
      for (let n = 0; n < 50; n++) await b.publish(`${ns}.resume`, n);
      await eventually(() => seen.size >= 10, 'the first messages', timeoutMs);
      await first.close();
      for (let n = 50; n < 100; n++) await b.publish(`${ns}.resume`, n);
      await b.subscribe(`${ns}.resume`, handler, { group: 'resumer' });
      await eventually(() => seen.size === 100, 'all 100 messages after resuming', timeoutMs);
    },
  },
  {
    name: "a group's position and unacked messages survive closing and reopening the driver",
    needs: { groups: true, persistent: true },
    async run({ factory, ns, timeoutMs }) {
      const topic = `${ns}.restart`;
      const acked = new Set<number>();
      const firstDriver = await factory();
      const first = new Bus({ drivers: { [firstDriver.name]: firstDriver } });
      await first.subscribe(topic, async (message) => {
        const n = message.data as number;
        if (n % 2 === 0) {
          acked.add(n);
          await message.ack();
        }
        // Odd messages stay unacked when the process goes away.
      }, { group: 'durable', ack: 'manual', ackDeadlineMs: 1_000 });
      for (let n = 0; n < 20; n++) await first.publish(topic, n);
      await eventually(() => acked.size === 10, 'the even messages acked', timeoutMs);
      await first.close();

      const secondDriver = await factory();
      const second = new Bus({ drivers: { [secondDriver.name]: secondDriver } });
      try {
        const again: number[] = [];
        await second.subscribe(topic, (message) => void again.push(message.data as number), {
          group: 'durable',
          ackDeadlineMs: 1_000,
        });
        await eventually(() => new Set(again).size === 10, 'the 10 unacked messages again', timeoutMs + 5_000);
        await sleep(300);
        assert.deepEqual([...new Set(again)].sort((x, y) => x - y), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
        assert.ok(again.every((n) => n % 2 === 1), 'no acked message came back');
      } finally {
        await second.close();
      }
    },
  },
  {
    name: "replays from 'earliest', from a seq and from a time",
    needs: { replay: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const topic = `${ns}.history`;
      const results = [];
      // A neighbouring topic the replays must leave out.
      await b.publish(`${ns}.history-other`, 'not mine');
      for (let n = 0; n < 5; n++) results.push(await b.publish(topic, n));
      await sleep(20);
      const middle = Date.now();
      await sleep(20);
      for (let n = 5; n < 10; n++) results.push(await b.publish(topic, n));
      assert.ok(results.every((r) => typeof r.seq === 'string'), 'publish returns the stored seq');

      const earliest = collector();
      await b.subscribe(topic, earliest.handler, { from: 'earliest' });
      const bySeq = collector();
      await b.subscribe(topic, bySeq.handler, { from: { seq: results[3].seq! } });
      const byTime = collector();
      await b.subscribe(topic, byTime.handler, { from: { time: middle } });
      await b.publish(topic, 10);
      await eventually(
        () => earliest.messages.length === 11 && bySeq.messages.length === 8 && byTime.messages.length === 6,
        'the replays',
        timeoutMs,
      );
      assert.deepEqual(earliest.messages.map((m) => m.data), [...Array(11).keys()]);
      assert.deepEqual(bySeq.messages.map((m) => m.data), [3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(byTime.messages.map((m) => m.data), [5, 6, 7, 8, 9, 10]);
      assert.deepEqual(bySeq.messages.map((m) => m.seq), [...results.slice(3).map((r) => r.seq), bySeq.messages[7].seq]);
    },
  },
  {
    name: "'latest' (the default) receives only what is published after subscribing",
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      await b.publish(`${ns}.late`, 'before');
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.late`, handler);
      await b.publish(`${ns}.late`, 'after');
      await eventually(() => messages.length >= 1, 'the new message', timeoutMs);
      await sleep(100);
      assert.deepEqual(messages.map((m) => m.data), ['after']);
    },
  },
  {
    name: 'stores a message published twice with one id once',
    needs: { dedupe: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.dedupe`, handler);
      await b.publish(`${ns}.dedupe`, 'first', { id: `${ns}-same` });
      await b.publish(`${ns}.dedupe`, 'second', { id: `${ns}-same` });
      await b.publish(`${ns}.dedupe`, 'other', { id: `${ns}-other` });
      await eventually(() => messages.length >= 2, 'two distinct messages', timeoutMs);
      await sleep(200);
      assert.deepEqual(messages.map((m) => m.data), ['first', 'other']);
    },
  },
  {
    name: 'passes bytes through untouched',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.bytes`, handler);
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await b.publish(`${ns}.bytes`, bytes);
      await eventually(() => messages.length === 1, 'the bytes', timeoutMs);
      assert.ok(messages[0].data instanceof Uint8Array);
      assert.deepEqual([...(messages[0].data as Uint8Array)], [...bytes]);
    },
  },
  {
    name: 'accepts a payload at the declared maximum size and refuses one byte more',
    needs: { maxPayloadBytes: 'finite' },
    async run({ bus, ns, timeoutMs, capabilities }) {
      const max = capabilities.maxPayloadBytes;
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.big`, handler);
      await b.publish(`${ns}.big`, new Uint8Array(max).fill(7));
      await assert.rejects(b.publish(`${ns}.big`, new Uint8Array(max + 1)), (error: PayloadTooLargeError) => {
        assert.ok(error instanceof PayloadTooLargeError);
        assert.equal(error.retriable, false);
        assert.equal(error.topic, `${ns}.big`);
        assert.match(error.message, new RegExp(`${max + 1} bytes exceeds .* ${max} bytes`));
        return true;
      });
      await eventually(() => messages.length === 1, 'the maximum-size message', timeoutMs);
      assert.equal((messages[0].data as Uint8Array).length, max);
    },
  },
  {
    name: 'rejects publish and subscribe after close with ClosedError',
    async run({ bus, ns }) {
      const b = await bus();
      await b.close();
      await assert.rejects(b.publish(`${ns}.closed`, 1), ClosedError);
      await assert.rejects(b.subscribe(`${ns}.closed`, () => {}), ClosedError);
      await b.close();
    },
  },
  {
    name: 'close() waits for a slow handler to finish',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      let started = false;
      let finished = false;
      await b.subscribe(`${ns}.slowclose`, async () => {
        started = true;
        await sleep(300);
        finished = true;
      });
      await b.publish(`${ns}.slowclose`, 1);
      await eventually(() => started, 'the handler to start', timeoutMs);
      await b.close();
      assert.ok(finished, 'the handler finished before close resolved');
    },
  },
  {
    name: 'a closed subscription receives nothing more',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      const subscription = await b.subscribe(`${ns}.unsub`, handler);
      await b.publish(`${ns}.unsub`, 1);
      await eventually(() => messages.length === 1, 'the first message', timeoutMs);
      await subscription.close();
      await b.publish(`${ns}.unsub`, 2);
      await sleep(300);
      assert.deepEqual(messages.map((m) => m.data), [1]);
    },
  },
  {
    name: 'carries correlation and causation ids from a handled message to what its handler publishes',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.shipped`, handler);
      await b.subscribe(`${ns}.placed`, async (message) => {
        await sleep(1);
        await b.publish(`${ns}.shipped`, { order: message.data });
      });
      // A synchronous handler, which core tracks without async context.
      await b.subscribe(`${ns}.paid`, (message) => void b.publish(`${ns}.shipped`, { paid: message.data }));
      const placed = await b.publish(`${ns}.placed`, 5, { headers: { [HEADER.correlationId]: 'checkout-1' } });
      const paid = await b.publish(`${ns}.paid`, 6);
      await eventually(() => messages.length === 2, 'the follow-up events', timeoutMs);
      const shipped = messages.find((m) => (m.data as { order?: number }).order === 5)!;
      assert.equal(shipped.headers[HEADER.correlationId], 'checkout-1');
      assert.equal(shipped.headers[HEADER.causationId], placed.id);
      const afterPaid = messages.find((m) => (m.data as { paid?: number }).paid === 6)!;
      assert.equal(afterPaid.headers[HEADER.correlationId], paid.id, 'the root message id starts the correlation');
      assert.equal(afterPaid.headers[HEADER.causationId], paid.id);
    },
  },
  {
    name: 'stream() yields messages in order and ends cleanly when the bus closes',
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const stream = b.stream(`${ns}.stream.>`);
      await stream.started();
      for (let n = 0; n < 5; n++) await b.publish(`${ns}.stream.x`, n);
      const seen: unknown[] = [];
      const reading = (async () => {
        for await (const message of stream) {
          seen.push(message.data);
          await message.ack();
        }
      })();
      await eventually(() => seen.length === 5, 'five streamed messages', timeoutMs);
      await b.close();
      await reading;
      assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    },
  },
];

/**
 * Runs the delivery contract against a driver. Cases its capabilities do not claim are
 * skipped, the reason naming the capability and what the case needs of it.
 */
export function runConformance(name: string, factory: DriverFactory, options: ConformanceOptions = {}): void {
  describe(`conformance: ${name}`, async () => {
    const probe = await factory();
    const capabilities = probe.capabilities;
    await probe.close();
    const run = randomUUID().slice(0, 8);
    let index = 0;
    for (const definition of cases) {
      const given = definition.given === undefined || options[definition.given] !== undefined ? false : `no ${definition.given} driver was given (ConformanceOptions.${definition.given})`;
      const skip = skipReason(definition.needs ?? {}, capabilities) || given;
      it(definition.name, { skip }, async () => {
        const buses: Bus[] = [];
        const context: CaseContext = {
          factory,
          options,
          ns: `conf${run}c${index++}`,
          timeoutMs: options.timeoutMs ?? 10_000,
          ackDeadlineMs: options.ackDeadlineMs ?? 1_000,
          capabilities,
          bus: async () => {
            const driver = await factory();
            const bus = new Bus({ drivers: { [driver.name]: driver } });
            buses.push(bus);
            return bus;
          },
        };
        try {
          await definition.run(context);
        } finally {
          await Promise.all(buses.map((bus) => bus.close()));
        }
      });
    }
  });
}

export type { SubscribeOptions };
