// Consumer groups: each message to one member, the load spread, hand-over when one leaves.

import assert from 'node:assert/strict';
import { type Message } from '../../core/message.js';
import { eventually, sleep } from '../wait.js';
import { collector, type CaseDefinition } from './case.js';

export const groupsCases: CaseDefinition[] = [
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
      const missing = () => Array.from({ length: count }, (_, n) => n).filter((n) => !seen.has(n));
      await eventually(() => seen.size === count, () => `all ${count} messages after the member left (missing: ${missing().join(', ')})`, timeoutMs * 2);
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
];
