// What a published message is when it arrives: its fields, its topic among many, the
// wildcards, bytes, size limits, and the correlation of what a handler publishes.

import assert from 'node:assert/strict';
import { InvalidTopicError, PayloadTooLargeError } from '../../core/errors.js';
import { HEADER } from '../../core/message.js';
import { eventually, sleep } from '../wait.js';
import { collector, type CaseDefinition } from './case.js';

export const deliveryCases: CaseDefinition[] = [
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
];
