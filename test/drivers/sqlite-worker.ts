// A child process for the sqlite multi-process and crash tests. It reports on stdout, one
// line per event, written synchronously so a SIGKILL loses nothing it already reported:
//   ready | P <id> (publish resolved) | D <id> <attempt> <ms> (delivered) | K <id> (acking) | A <id> (ack resolved)
//   | S <id> <seq> <0|1: duplicate> (publish resolved) | done
// Usage: worker.ts subscribe <file> <pattern> [group] [hold | slow]
//        worker.ts crash <file> <run> (publishes and consumes group 'crash' until killed)
//        worker.ts same-ids <file> <prefix> <count> (on a message to <prefix>.go, publishes ids <prefix>-0 … in paced batches of 10)

import { writeSync } from 'node:fs';
import { Bus } from '../../src/core/bus.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';

const [mode, file, arg, group, hold] = process.argv.slice(2);
const say = (line: string) => writeSync(1, `${line}\n`);
// In crash mode retention runs all the time on a side topic, so kills land inside its deletes too.
const driver = sqlite(
  mode === 'crash' ? { path: file, retention: [{ topics: 'crash.noise', maxMessages: 100 }], retentionIntervalMs: 20 } : { path: file },
);
const bus = new Bus({ drivers: { sqlite: driver } });
bus.on('error', (event) => say(`E ${String((event.error as Error)?.message ?? event.error)}`));

if (mode === 'subscribe') {
  // With 'hold' the worker never acks, as a member that dies mid-work; with 'slow' each
  // message takes it 2 ms, as real work does.
  await bus.subscribe(arg, async (message) => {
    say(`D ${message.id} ${message.attempt} ${Date.now()}`);
    if (hold === 'slow') await new Promise((resolve) => setTimeout(resolve, 2));
  }, {
    group: group || undefined,
    ack: hold === 'hold' ? 'manual' : 'auto',
  });
  say('ready');
} else if (mode === 'crash') {
  const run = arg;
  // Acks a message after a short random delay, leaving some unacked when the kill comes.
  await bus.subscribe('crash.events', async (message) => {
    say(`D ${message.id} ${message.attempt} ${Date.now()}`);
    if (Math.random() < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    say(`K ${message.id}`);
    await message.ack();
    say(`A ${message.id}`);
  }, { group: 'crash', ack: 'manual', concurrency: 8, ackDeadlineMs: 60_000 });
  say('ready');
  let n = 0;
  const publisher = async (lane: number) => {
    for (;;) {
      if (Math.random() < 0.5) {
        const id = `${run}-${lane}-${n++}`;
        await bus.publish('crash.events', { n }, { id });
        say(`P ${id}`);
        await bus.publish('crash.noise', { n });
      } else {
        const items = Array.from({ length: 1 + Math.floor(Math.random() * 20) }, () => ({
          topic: 'crash.events',
          data: { n },
          id: `${run}-${lane}-${n++}`,
        }));
        await bus.publishMany(items);
        for (const item of items) say(`P ${item.id}`);
      }
      // Publish at a pace the group can follow, so each round leaves a realistic backlog.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
    }
  };
  void Promise.all([publisher(0), publisher(1), publisher(2), publisher(3)]);
} else if (mode === 'same-ids') {
  const [prefix, count] = [arg, Number(group)];
  await bus.subscribe(`${prefix}.go`, async () => {
    for (let n = 0; n < count; n += 10) {
      const items = Array.from({ length: 10 }, (_, i) => ({ topic: `${prefix}.orders`, data: process.pid, id: `${prefix}-${n + i}` }));
      for (const result of await bus.publishMany(items)) say(`S ${result.id} ${result.seq} ${result.duplicate === true ? 1 : 0}`);
      // Paced, so the processes' batches interleave rather than the fastest taking every id.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    say('done');
  });
  say('ready');
} else {
  say(`E unknown mode ${mode}`);
  process.exit(2);
}
