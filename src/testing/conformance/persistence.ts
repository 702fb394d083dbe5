// What survives: a group's position across closing and reopening, replays, de-duplication.

import assert from 'node:assert/strict';
import { Bus } from '../../core/bus.js';
import { type Message } from '../../core/message.js';
import { eventually, sleep } from '../wait.js';
import { collector, type CaseDefinition } from './case.js';

export const persistenceCases: CaseDefinition[] = [
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
      const first = await b.publish(`${ns}.dedupe`, 'first', { id: `${ns}-same` });
      const again = await b.publish(`${ns}.dedupe`, 'second', { id: `${ns}-same` });
      const other = await b.publish(`${ns}.dedupe`, 'other', { id: `${ns}-other` });
      assert.equal(first.duplicate, undefined, 'the first publish stored it');
      assert.equal(again.duplicate, true, 'the second publish resolves as a duplicate');
      assert.equal(again.seq, first.seq, "a duplicate resolves with the stored message's seq");
      assert.equal(other.duplicate, undefined);
      await eventually(() => messages.length >= 2, 'two distinct messages', timeoutMs);
      await sleep(200);
      assert.deepEqual(messages.map((m) => m.data), ['first', 'other']);
    },
  },
  {
    name: 'stores an id published again once its dedupe window has passed',
    needs: { dedupe: true, dedupeWindowMs: 'short' },
    async run({ bus, ns, timeoutMs, capabilities }) {
      const b = await bus();
      const { messages, handler } = collector();
      await b.subscribe(`${ns}.window`, handler);
      const first = await b.publish(`${ns}.window`, 'first', { id: `${ns}-window` });
      const stored = Date.now();
      // The window is the promise under test: wait it out on the clock, then a little more.
      await sleep(stored + capabilities.dedupeWindowMs! + 100 - Date.now());
      const later = await b.publish(`${ns}.window`, 'later', { id: `${ns}-window` });
      assert.equal(later.duplicate, undefined, `published ${Date.now() - stored} ms after it was stored, past the ${capabilities.dedupeWindowMs} ms window`);
      assert.notEqual(later.seq, first.seq);
      await eventually(() => messages.length >= 2, 'the message and its republished copy', timeoutMs);
      assert.deepEqual(messages.map((m) => m.data), ['first', 'later']);
    },
  },
];
