// Delayed delivery: held until due, never before it and not long after, in due order, and
// (on persistent drivers) kept across closing the bus before it is due.

import assert from 'node:assert/strict';
import { Bus } from '../../core/bus.js';
import type { Message } from '../../core/message.js';
import { eventually } from '../wait.js';
import type { CaseDefinition } from './case.js';

/** How late a due message may arrive: generous, for a busy two-core CI machine. */
export const DELAY_SLACK_MS = 2_000;

/** Each message with the wall-clock time it arrived. */
function arrivals() {
  const got: Array<{ message: Message; at: number }> = [];
  return { got, handler: (message: Message) => void got.push({ message, at: Date.now() }) };
}

function assertOnTime(at: number, due: number, what: string): void {
  assert.ok(at >= due, `${what} arrived ${due - at} ms before it was due`);
  assert.ok(at <= due + DELAY_SLACK_MS, `${what} arrived ${at - due} ms after it was due (allowed ${DELAY_SLACK_MS})`);
}

export const delayCases: CaseDefinition[] = [
  {
    name: `a delayed message reaches subscribers and one group member no earlier than due, and within ${DELAY_SLACK_MS} ms of it`,
    needs: { delayedDelivery: true, groups: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const topic = `${ns}.later`;
      const fanOut = arrivals();
      const members = [arrivals(), arrivals()];
      await b.subscribe(topic, fanOut.handler);
      for (const member of members) await b.subscribe(topic, member.handler, { group: 'delayed' });
      const due = Date.now() + 700;
      await b.publish(topic, 'later', { deliverAt: new Date(due) });
      await b.publish(topic, 'now');
      const grouped = () => [...members[0].got, ...members[1].got];
      await eventually(() => fanOut.got.length === 2 && grouped().length === 2, 'both messages to each subscription', timeoutMs);
      assert.deepEqual(fanOut.got.map(({ message }) => message.data), ['now', 'later'], 'the undelayed message came first');
      for (const { message, at } of [...fanOut.got, ...grouped()]) if (message.data === 'later') assertOnTime(at, due, 'the delayed message');
      assert.equal(grouped().filter(({ message }) => message.data === 'later').length, 1, 'one group member received it');
    },
  },
  {
    name: 'a delayed message counts as published when due: a subscription opened meanwhile receives it, with that time',
    needs: { delayedDelivery: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const topic = `${ns}.meanwhile`;
      const before = Date.now();
      const result = await b.publish(topic, 'held', { delayMs: 600 });
      const due = before + 600;
      const late = arrivals();
      await b.subscribe(topic, late.handler);
      await eventually(() => late.got.length === 1, 'the delayed message', timeoutMs);
      const [{ message, at }] = late.got;
      assertOnTime(at, due, 'the delayed message');
      assert.equal(message.id, result.id);
      assert.ok(message.time >= due, `its time ${message.time} is its due time, not before ${due}`);
    },
  },
  {
    name: 'due messages arrive in due order, and equal due times keep publish order (publishMany included)',
    needs: { delayedDelivery: true },
    async run({ bus, ns, timeoutMs }) {
      const b = await bus();
      const topic = `${ns}.order`;
      const got = arrivals();
      await b.subscribe(topic, got.handler);
      const middle = new Date(Date.now() + 600);
      await b.publishMany([
        { topic, data: 'last', delayMs: 900 },
        { topic, data: 'second', deliverAt: middle },
        { topic, data: 'third', deliverAt: middle },
        { topic, data: 'first', delayMs: 300 },
      ]);
      await b.publish(topic, 'fourth', { deliverAt: middle });
      await eventually(() => got.got.length === 5, 'all five delayed messages', timeoutMs);
      assert.deepEqual(got.got.map(({ message }) => message.data), ['first', 'second', 'third', 'fourth', 'last']);
    },
  },
  {
    name: 'a delayed message survives closing the bus before it is due, and is delivered once due',
    needs: { delayedDelivery: true, persistent: true, groups: true },
    async run({ factory, ns, timeoutMs }) {
      const topic = `${ns}.restart`;
      const firstDriver = await factory();
      const first = new Bus({ drivers: { [firstDriver.name]: firstDriver } });
      // The group exists before the publish, as a service's would.
      await (await first.subscribe(topic, () => {}, { group: 'patient' })).close();
      const due = Date.now() + 800;
      await first.publish(topic, 'kept', { deliverAt: new Date(due) });
      await first.close();

      const secondDriver = await factory();
      const second = new Bus({ drivers: { [secondDriver.name]: secondDriver } });
      try {
        const got = arrivals();
        await second.subscribe(topic, got.handler, { group: 'patient' });
        await eventually(() => got.got.length === 1, 'the delayed message after reopening', timeoutMs);
        assertOnTime(got.got[0].at, due, 'the kept message');
        assert.equal(got.got[0].message.data, 'kept');
      } finally {
        await second.close();
      }
    },
  },
];
