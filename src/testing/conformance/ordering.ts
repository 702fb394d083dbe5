// Order: per key for every driver that promises it, one global order for those that promise that.

import assert from 'node:assert/strict';
import { Bus } from '../../core/bus.js';
import { type Message } from '../../core/message.js';
import { eventually, sleep } from '../wait.js';
import { collector, type CaseDefinition } from './case.js';

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

export const orderingCases: CaseDefinition[] = [
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
];
