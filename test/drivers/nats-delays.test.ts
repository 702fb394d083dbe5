// Delayed delivery on NATS JetStream beyond the conformance cases: another process's mover
// delivers a stopped publisher's messages, a message due seconds ahead waits in the delay stream
// and arrives on time, equal and ascending due times far enough ahead to be nak'd and
// redelivered keep due order, and moved messages leave the delayed stream.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Bus } from '../../src/core/bus.js';
import type { Message } from '../../src/core/message.js';
import { nats } from '../../src/drivers/nats/index.js';
import { DELAY_SLACK_MS } from '../../src/testing/conformance/delays.js';
import { eventually } from '../../src/testing/wait.js';
import { deleteStreams, NATS_URL, natsSkip } from '../support/nats.js';

const skip = await natsSkip();
const streamPrefix = `OMNIDELAY${randomUUID().slice(0, 8)}`;
const busOn = () => new Bus({ drivers: { nats: nats({ servers: NATS_URL, streamPrefix }) } });

describe('nats delayed delivery', { skip }, () => {
  after(() => deleteStreams(streamPrefix));

  it("delivers on time a message whose publisher stopped before it was due, through another process's mover", async () => {
    const waiting = busOn();
    const got: number[] = [];
    await waiting.subscribe('jobs.handover', () => void got.push(Date.now()), { group: 'workers' });
    const publisher = busOn();
    const due = Date.now() + 1_500;
    const result = await publisher.publish('jobs.handover', 'handed over', { deliverAt: new Date(due) });
    assert.equal(result.seq, undefined, 'no stream seq before it is due');
    await publisher.close();
    await eventually(() => got.length === 1, 'the message the stopped publisher held', 10_000);
    assert.ok(got[0] >= due && got[0] <= due + DELAY_SLACK_MS, `arrived ${got[0] - due} ms from due`);
    await waiting.close();
  });

  it('keeps due order for messages nak-ed until shortly before due: equal due times in publish order, then ascending', async () => {
    const bus = busOn();
    const got: unknown[] = [];
    await bus.subscribe('jobs.order', (message) => void got.push(message.data), { group: 'ordered' });
    const base = Date.now() + 1_500;
    await bus.publishMany([
      { topic: 'jobs.order', data: 'e', deliverAt: new Date(base + 600) },
      { topic: 'jobs.order', data: 'b', deliverAt: new Date(base) },
      { topic: 'jobs.order', data: 'c', deliverAt: new Date(base) },
      { topic: 'jobs.order', data: 'd', deliverAt: new Date(base + 300) },
    ]);
    await bus.publish('jobs.order', 'a', { deliverAt: new Date(base - 300) });
    await eventually(() => got.length === 5, 'all five', 10_000);
    assert.deepEqual(got, ['a', 'b', 'c', 'd', 'e']);
    await bus.close();
  });

  it('a message due seconds ahead waits in the delay stream, nak\'d by the mover until close to due, then arrives on time', async () => {
    const topic = 'jobs.later';
    const bus = busOn();
    const got: Array<{ message: Message; at: number }> = [];
    await bus.subscribe(topic, (message) => void got.push({ message, at: Date.now() }), { group: 'later' });
    const due = Date.now() + 3_000;
    const result = await bus.publish(topic, 'in three seconds', { deliverAt: new Date(due) });
    assert.equal(result.seq, undefined, 'no seq before it is stored on its topic');
    // It waits in the driver's own stream, not in the topic's.
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      assert.equal((await jsm.streams.info(`${streamPrefix}-delayed`)).state.messages >= 1, true);
    } finally {
      await nc.close();
    }
    await eventually(() => got.length === 1, 'the delayed message', 10_000);
    assert.ok(got[0].at >= due, `arrived ${due - got[0].at} ms early`);
    assert.ok(got[0].at <= due + 2_000, `arrived ${got[0].at - due} ms late`);
    assert.equal(got[0].message.id, result.id);
    await bus.close();
  });

  it('leaves nothing in the delayed stream once moved, and a wildcard subscriber never sees held messages', async () => {
    const bus = busOn();
    const seen: string[] = [];
    await bus.subscribe('jobs.>', (message) => void seen.push(message.topic));
    await bus.publish('jobs.wild', 'later', { delayMs: 800 });
    await eventually(() => seen.length === 1, 'the moved message', 10_000);
    assert.deepEqual(seen, ['jobs.wild']);
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      let left = -1;
      const deadline = Date.now() + 10_000;
      while (left !== 0 && Date.now() < deadline) left = (await jsm.streams.info(`${streamPrefix}-delayed`)).state.messages;
      assert.equal(left, 0, 'the acked move empties the work queue');
    } finally {
      await nc.close();
    }
    await bus.close();
  });
});
