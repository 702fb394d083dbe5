// Closing: a slow handler finishes first, a closed subscription gets nothing, streams end.

import assert from 'node:assert/strict';
import { eventually, sleep } from '../wait.js';
import { collector, type CaseDefinition } from './case.js';

export const lifecycleCases: CaseDefinition[] = [
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
