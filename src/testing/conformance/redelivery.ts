// Failed handling: nacks, retries with backoff, dead letters, schemas, ack deadlines.

import assert from 'node:assert/strict';
import type { DeliveryFailed } from '../../core/bus-events.js';
import { ValidationError } from '../../core/errors.js';
import { defineEvent } from '../../core/event.js';
import { HEADER } from '../../core/message.js';
import { eventually, sleep } from '../wait.js';
import { collector, type CaseDefinition } from './case.js';

export const redeliveryCases: CaseDefinition[] = [
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
];
