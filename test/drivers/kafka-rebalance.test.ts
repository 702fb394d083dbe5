// Kafka consumer groups through rebalances: members, each a bus with a Kafka driver (and so a
// consumer) of its own, share a topic by partitions while one leaves and another joins in the
// middle of the stream. What users rely on: every message is handled, and once `ack()`
// resolved the group's committed offset covers the message, so nobody handles it again.
// `subscribe()` of a group member resolves before its join completes, so the test waits on
// the group as the broker describes it (stable, with these members holding partitions).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { Bus } from '../../src/core/bus.js';
import type { Message } from '../../src/core/message.js';
import { kafka } from '../../src/drivers/kafka/index.js';
import { eventually } from '../../src/testing/wait.js';
import { kafkaForTests } from '../support/kafka.js';

const { skip, brokers } = await kafkaForTests();
const run = randomUUID().slice(0, 8);

describe('kafka driver: group rebalances', { skip }, () => {
  it('3 members, one leaving and one joining mid-stream over 10,000 messages: every message handled, none again once its ack resolved', { timeout: 110_000 }, async () => {
    const started = Date.now();
    const topic = `kafka-rebalance-${run}`;
    const groupId = `rebalance-${run}`;
    const count = 10_000;
    const batch = 250;
    // How far publishing may run ahead of handling, so the leave and the join fall mid-stream.
    const backlog = 1_000;
    // b leaves once this many are handled; publishing past `leaveAt + backlog` waits for it to be gone.
    const leaveAt = 3_000;
    // d joins once this many are handled; publishing past `joinAt + backlog` waits for it to be in.
    const joinAt = 6_000;

    /** Handlings per message number. */
    const times = new Map<number, number>();
    /** For each message whose ack() resolved: the member that acked it. */
    const resolved = new Map<number, string>();
    const againAfterAck: Array<{ n: number; by: string; ackedBy: string }> = [];
    let handlings = 0;
    let acking = 0;
    let rejected = 0;
    /** Why acks were rejected, with one example message each, for the note. */
    const reasons = new Map<string, { times: number; example: string }>();
    const errors: unknown[] = [];

    interface Member {
      name: string;
      bus: Bus;
      handled: number;
    }
    const members: Member[] = [];

    const join = async (name: string): Promise<Member> => {
      const bus = new Bus({ drivers: { kafka: kafka({ brokers, clientId: `rebalance-${name}`, partitions: 6 }) } });
      bus.on('error', (event) => void errors.push(event.error));
      const member: Member = { name, bus, handled: 0 };
      members.push(member);
      await bus.subscribe(
        topic,
        async (message: Message) => {
          const n = message.data as number;
          handlings++;
          member.handled++;
          times.set(n, (times.get(n) ?? 0) + 1);
          const acked = resolved.get(n);
          if (acked !== undefined) againAfterAck.push({ n, by: name, ackedBy: acked });
          // A little async work, so members and their handlers interleave.
          await new Promise((resolve) => setImmediate(resolve));
          acking++;
          void (async () => {
            try {
              await message.ack();
              resolved.set(n, name);
            } catch (error) {
              // Allowed: the ack did not make it into the group's commit, so it may come again.
              rejected++;
              const why = String((error as Error).message).replaceAll(topic, '<topic>').replace(/ partition \S+| \(.*\)/g, '');
              reasons.set(why, { times: (reasons.get(why)?.times ?? 0) + 1, example: (error as Error).message });
            } finally {
              acking--;
            }
          })();
        },
        { group: groupId, from: 'earliest', ack: 'manual', concurrency: 4 },
      );
      return member;
    };

    // The group as the broker describes it: its state and the members holding partitions.
    const admin = new Admin({ clientId: `rebalance-test-${run}`, bootstrapBrokers: brokers });
    let described = 'not described yet';
    /** Waits until the group is stable with exactly these members, each holding partitions. */
    const groupIs = async (names: string[]) => {
      const wanted = names.map((name) => `rebalance-${name}-consumer`).sort();
      await eventually(() => described === `STABLE ${wanted.join(' ')}`, `the group to be stable with ${names.join(', ')}`, 30_000).catch((error) => {
        throw new Error(`${(error as Error).message}; the broker last described it as: ${described}`);
      });
    };
    let describing = true;
    const watching = (async () => {
      while (describing) {
        try {
          const info = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
          const holders = [...(info?.members.values() ?? [])].filter((member) => [...(member.assignments?.values() ?? [])].some((a) => a.partitions.length > 0));
          described = `${info?.state} ${holders.map((member) => member.clientId).sort().join(' ')}`;
        } catch (error) {
          described = `describeGroups failed: ${(error as Error).message}`;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    try {
      const [a, b, c] = [await join('a'), await join('b'), await join('c')];
      await groupIs(['a', 'b', 'c']);
      const distinct = () => times.size;

      let left = false;
      let joined = false;
      const publishing = (async () => {
        for (let from = 0; from < count; from += batch) {
          await eventually(() => distinct() >= from - backlog, `handling to come within ${backlog} of ${from} published`, 60_000);
          if (from >= leaveAt + backlog) await eventually(() => left, 'b to have left', 60_000);
          if (from >= joinAt + backlog) await eventually(() => joined, 'd to have joined', 60_000);
          await a.bus.publishMany(Array.from({ length: Math.min(batch, count - from) }, (_, i) => ({ topic, data: from + i })));
        }
      })();

      await eventually(() => distinct() >= leaveAt, `${leaveAt} messages handled before b leaves`, 60_000);
      // b leaves mid-stream: running handlers finish and ack, unstarted messages are handed back.
      const leftAt = distinct();
      await b.bus.close();
      await groupIs(['a', 'c']);
      left = true;

      await eventually(() => distinct() >= joinAt, `${joinAt} messages handled before d joins`, 60_000);
      const joinedAt = distinct();
      const d = await join('d');
      await groupIs(['a', 'c', 'd']);
      joined = true;

      await publishing;
      const missing = () => Array.from({ length: count }, (_, n) => n).filter((n) => !times.has(n));
      await eventually(() => missing().length === 0, `all ${count} messages handled`, 60_000).catch((error) => {
        throw new Error(`${(error as Error).message}; missing ${missing().length}, e.g. ${missing().slice(0, 10).join(', ')}`);
      });
      // Every ack settles: resolved once a commit covers it, or rejected.
      await eventually(() => acking === 0, 'every ack to resolve or reject', 30_000);
      // The last members leave too (more rebalances); anything handled meanwhile counts.
      await Promise.all(members.map((member) => member.bus.close()));

      const duplicates = handlings - count;
      console.log(
        `# kafka rebalance: ${count} messages, ${handlings} handlings, ${duplicates} duplicates (${[...times.values()].filter((t) => t > 1).length} messages handled more than once); ` +
          `acks ${resolved.size} resolved, ${rejected} rejected; per member ${members.map((m) => `${m.name} ${m.handled}`).join(', ')}; ` +
          `b left at ${leftAt}, d joined at ${joinedAt} handled; ${errors.length} bus errors; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      for (const { times, example } of reasons.values()) console.log(`#   ${times} acks rejected, e.g. ${example}`);

      assert.deepEqual(missing(), [], 'every message is handled at least once');
      assert.deepEqual(
        againAfterAck.slice(0, 20),
        [],
        `handled again after their ack() resolved: ${againAfterAck.length} handlings of ${new Set(againAfterAck.map((x) => x.n)).size} messages`,
      );
      for (const member of [a, b, c, d]) assert.ok(member.handled > 0, `member ${member.name} handled messages`);
    } finally {
      describing = false;
      await watching;
      await Promise.all(members.map((member) => member.bus.close()));
      await admin.close();
    }
  });
});
