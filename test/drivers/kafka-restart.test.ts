// The Kafka driver through a real broker restart, on a private broker (the shared one is
// never stopped): a publisher keeps publishing, retrying what fails retriably, and a group
// keeps consuming with manual acks. What users rely on: every publish that resolved is
// handled, a message whose ack() resolved is not handled again, and the bus says when the
// connection went and came back.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Bus } from '../../src/core/bus.js';
import { OmnibusError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { kafka, type KafkaOptions } from '../../src/drivers/kafka/index.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { privateKafkaSkip, startPrivateKafka } from '../support/kafka.js';
import { connectionEvents } from '../support/restart.js';

const skip = privateKafkaSkip();
const run = randomUUID().slice(0, 8);

describe('kafka driver: broker restart', { skip }, () => {
  it('a broker restart mid-stream loses nothing acknowledged: the publisher retries, the group consumes on with manual acks', { timeout: 120_000 }, async () => {
    const started = Date.now();
    const broker = await startPrivateKafka();
    const topic = `kafka-restart-${run}`;
    const group = `restart-${run}`;
    const count = 6_000;
    // The broker is stopped once this many publishes resolved; numbers from `heldFrom` on wait
    // until it is down, so there is publishing to do through the outage and after it.
    const stopAt = 1_500;
    const heldFrom = 3_000;
    const workers = 8;
    // A publish that keeps failing this long after the broker is back is a stuck driver, not an outage.
    const retryForMs = 60_000;

    const options: KafkaOptions = { brokers: broker.brokers, partitions: 3 };
    const publisher = new Bus({ drivers: { kafka: kafka({ ...options, clientId: 'restart-publisher' }) } });
    const consumer = new Bus({ drivers: { kafka: kafka({ ...options, clientId: 'restart-consumer' }) } });
    const connection = connectionEvents(consumer, 'kafka');
    const errors: unknown[] = [];
    publisher.on('error', (event) => void errors.push(event.error));
    consumer.on('error', (event) => void errors.push(event.error));
    const events: string[] = [];
    for (const [name, bus] of [['publisher', publisher], ['consumer', consumer]] as const) {
      bus.on('connectionLost', () => void events.push(`${name} connectionLost`));
      bus.on('reconnected', () => void events.push(`${name} reconnected`));
    }

    /** Numbers whose publish resolved (Kafka stored them), with the seq the publish returned. */
    const acknowledged = new Map<number, string | undefined>();
    let attempts = 0;
    let retried = 0;
    const failures = new Map<string, number>();
    /** Handlings per message id (a retried publish is a new message with the same number). */
    const handledIds = new Map<string, number>();
    const handledNumbers = new Set<number>();
    /** The number handled at each seq (`topic:partition:offset`), to explain a loss. */
    const handledAt = new Map<string, number>();
    let handlings = 0;
    /** Message ids whose ack() resolved. */
    const resolved = new Set<string>();
    const againAfterAck: Array<{ n: number; id: string }> = [];
    let acking = 0;
    let rejected = 0;

    let phase = 'starting';
    const state = () =>
      `phase '${phase}': ${acknowledged.size} acknowledged, ${handledNumbers.size} numbers handled (${handlings} handlings), ` +
      `${attempts} publish attempts, acks ${resolved.size} resolved / ${rejected} rejected / ${acking} waiting, events [${events.join(', ')}], ${errors.length} bus errors` +
      (errors.length > 0 ? ` (last: ${(errors.at(-1) as Error)?.message})` : '');
    // Should the test time out, the note says where it stood.
    const watchdog = setTimeout(() => console.log(`# kafka restart, still running after 110 s: ${state()}`), 110_000);
    watchdog.unref();

    /** What the topic holds, by seq: a retried publish whose first attempt was stored is there twice. */
    const stored = async () => {
      const reader = new Bus({ drivers: { kafka: kafka({ ...options, clientId: 'restart-reader' }) } });
      const bySeq = new Map<string, number>();
      try {
        for await (const record of reader.read(topic)) bySeq.set(record.seq!, record.data as number);
      } finally {
        await reader.close();
      }
      return bySeq;
    };

    try {
      await consumer.subscribe(
        topic,
        async (message: Message) => {
          const n = message.data as number;
          handlings++;
          handledIds.set(message.id, (handledIds.get(message.id) ?? 0) + 1);
          handledNumbers.add(n);
          if (message.seq !== undefined) handledAt.set(message.seq, n);
          if (resolved.has(message.id)) againAfterAck.push({ n, id: message.id });
          // A little async work, as a real handler does.
          await new Promise((resolve) => setImmediate(resolve));
          acking++;
          void (async () => {
            try {
              await message.ack();
              resolved.add(message.id);
            } catch {
              // Allowed: the commit did not happen (the broker was down), so it may come again.
              rejected++;
            } finally {
              acking--;
            }
          })();
        },
        { group, from: 'earliest', ack: 'manual', concurrency: 4 },
      );

      let stopped = false;
      let back = Infinity;
      let next = 0;
      phase = 'publishing';
      const publishing = Promise.all(
        Array.from({ length: workers }, async () => {
          for (let n = next++; n < count; n = next++) {
            if (n >= heldFrom) await eventually(() => stopped, 'the broker to be stopped', 60_000);
            for (let attempt = 1; ; attempt++) {
              attempts++;
              try {
                const { seq } = await publisher.publish(topic, n);
                acknowledged.set(n, seq);
                break;
              } catch (error) {
                if (!(error instanceof OmnibusError) || !error.retriable) throw error;
                if (Date.now() > back + retryForMs) throw new Error(`publishing ${n} still fails ${retryForMs / 1000} s after the broker is back: ${error.message}`);
                const kind = `${error.name}: ${error.message.replace(/[0-9]+/g, '#')}`;
                failures.set(kind, (failures.get(kind) ?? 0) + 1);
                retried++;
                await sleep(Math.min(50 * attempt, 500));
              }
            }
          }
        }),
      );
      // Should a worker fail, the test says so at its next wait instead of an unhandled rejection.
      let published: unknown;
      publishing.catch((error) => void (published = error));
      const publishingFailed = () => {
        if (published !== undefined) throw published;
        return false;
      };

      // The group consumes too when the broker goes (its first generation forms after the broker's 3 s initial delay).
      await eventually(() => publishingFailed() || (acknowledged.size >= stopAt && handledNumbers.size >= stopAt / 3), `${stopAt} publishes acknowledged and ${stopAt / 3} handled before the restart`, 60_000);
      const handledAtStop = handledNumbers.size;
      phase = 'stopping the broker';
      const stopping = Date.now();
      await broker.stop();
      stopped = true;
      phase = 'waiting for connectionLost';
      await connection.lost();
      const acknowledgedWhileDown = acknowledged.size;
      phase = 'starting the broker';
      const restarting = Date.now();
      await broker.start();
      back = Date.now();
      const down = back - stopping;
      phase = 'waiting for reconnected';
      await connection.reconnected();
      const reconnectedAfter = Date.now() - restarting;

      phase = 'publishing after the restart';
      await publishing;
      phase = 'handling after the restart';
      const lost = () => [...acknowledged.keys()].filter((n) => !handledNumbers.has(n));
      await eventually(() => lost().length === 0, `all ${acknowledged.size} acknowledged publishes handled`, 30_000).catch(async (error) => {
        // Was it stored at all? For each lost number: the seq its publish returned, and what the topic and the consumer have there.
        const log = await stored();
        const inLog = new Map<number, string[]>();
        for (const [seq, n] of log) inLog.set(n, [...(inLog.get(n) ?? []), seq]);
        const twice = [...inLog].filter(([, seqs]) => seqs.length > 1).map(([n]) => `${n} at [${inLog.get(n)!.join(' ')}]`);
        const explained = lost()
          .slice(0, 10)
          .map((n) => {
            const seq = acknowledged.get(n)!;
            return `${n}: its publish resolved with seq ${seq}, where the topic holds ${log.get(seq)} and the consumer handled ${handledAt.get(seq)}; the topic has ${n} at [${(inLog.get(n) ?? []).join(' ')}]`;
          });
        throw new Error(
          `${(error as Error).message}; not handled: ${lost().length} (the topic holds ${log.size} records; stored twice: ${twice.slice(0, 10).join(', ')}): ${explained.join('; ')}; ${state()}`,
        );
      });
      phase = 'settling acks';
      await eventually(() => acking === 0, 'every ack to resolve or reject', 30_000);
      await consumer.close();
      const records = (await stored()).size;

      console.log(
        `# kafka restart: ${count} numbers published, ${acknowledged.size} acknowledged, ${attempts} attempts (${retried} retried); ` +
          `the topic holds ${records} records (${records - count} stored twice by retries); ${handlings} handlings of ${handledIds.size} messages: ` +
          `${handlings - count} duplicates in all, ${handlings - handledIds.size} redeliveries of one message; acks ${resolved.size} resolved, ${rejected} rejected; ` +
          `broker down ${(down / 1000).toFixed(1)} s (stopped at ${stopAt}+ acknowledged, ${handledAtStop} handled; ${acknowledgedWhileDown} acknowledged when lost), ` +
          `reconnected ${(reconnectedAfter / 1000).toFixed(1)} s after start; events [${events.join(', ')}]; ${errors.length} bus errors; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      for (const [kind, times] of failures) console.log(`#   ${times} publish attempts failed: ${kind}`);

      assert.equal(acknowledged.size, count, 'every publish resolved in the end');
      assert.deepEqual(lost(), [], 'every acknowledged publish is handled');
      assert.deepEqual(againAfterAck.slice(0, 20), [], `handled again after their ack() resolved: ${againAfterAck.length}`);
      connection.steady();
    } catch (error) {
      console.log(`# kafka restart failed: ${state()}`);
      throw error;
    } finally {
      clearTimeout(watchdog);
      await Promise.all([publisher.close(), consumer.close()]);
      await broker.dispose();
    }
  });
});
