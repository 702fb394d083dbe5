// The NATS driver against a real nats-server: stream and consumer layout, interop with plain
// NATS clients both ways, core mode, configuration, closing, history reads, and restarts
// mid-stream, which run on a private nats-server each (the shared one is never stopped).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import type { Driver } from '../../src/core/driver.js';
import { ClosedError, ConfigurationError, ConnectionError, InvalidPositionError } from '../../src/core/errors.js';
import type { Message, StoredMessage } from '../../src/core/message.js';
import { nats, type NatsOptions } from '../../src/drivers/nats/index.js';
import { durableName } from '../../src/drivers/nats/jetstream.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { connectionEvents, restartSubscriptions, throughTwoOutages } from '../support/restart.js';
import { deleteStreams, NATS_URL, natsSkip, startPrivateNats } from '../support/nats.js';

const skip = await natsSkip();
const run = randomUUID().slice(0, 8);
const streamPrefix = `OMNITEST${run}`;
let topicCount = 0;
/** A topic root no other test or run uses, so its stream is this test's own. */
const fresh = () => `nt${run}x${topicCount++}`;

const buses: Bus[] = [];
function busOver(options: NatsOptions = {}): Bus {
  const driver = nats({ servers: NATS_URL, streamPrefix, ...options });
  const bus = new Bus({ drivers: { nats: driver } });
  buses.push(bus);
  return bus;
}

function collect() {
  const messages: Message[] = [];
  return { messages, handler: (message: Message) => void messages.push(message) };
}

async function raw(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL });
}

describe('nats driver', { skip }, () => {
  after(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await deleteStreams(streamPrefix);
  });

  it('declares JetStream mode durable and core mode at-most-once', () => {
    const jet = nats().capabilities;
    assert.deepEqual(
      [jet.persistent, jet.groups, jet.replay, jet.dedupe, jet.ackDeadline, jet.nativeWildcards],
      [true, true, true, true, true, true],
    );
    const core = nats({ mode: 'core' }).capabilities;
    assert.deepEqual([core.persistent, core.groups, core.replay, core.dedupe, core.ackDeadline], [false, true, false, false, false]);
    assert.equal(jet.maxPayloadBytes, 1024 * 1024 - 8 * 1024);
    assert.throws(() => nats({ mode: 'fast' as never }), ConfigurationError);
  });

  it('creates one stream per topic root with the de-duplication window, and a durable consumer per group', async () => {
    const root = fresh();
    const bus = busOver({ dedupeWindowMs: 30_000 });
    await bus.subscribe(`${root}.orders.*`, () => {}, { group: 'billing', ackDeadlineMs: 7_000 });
    const published = await bus.publish(`${root}.orders.placed`, { n: 1 });
    assert.equal(published.seq, '1');
    const nc = await raw();
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(`${streamPrefix}_${root}`);
      assert.deepEqual(info.config.subjects, [root, `${root}.>`]);
      assert.equal(info.config.duplicate_window, 30_000 * 1_000_000);
      const consumer = await jsm.consumers.info(info.config.name, durableName('billing', `${root}.orders.*`));
      assert.equal(consumer.config.ack_wait, 7_000 * 1_000_000);
      assert.equal(consumer.config.filter_subject, `${root}.orders.*`);
      assert.equal(consumer.config.max_deliver, -1);
    } finally {
      await nc.close();
    }
  });

  it('uses an existing stream that already captures the topic instead of creating one', async () => {
    const root = fresh();
    const nc = await raw();
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: `${streamPrefix}_OWN_${root}`, subjects: [`${root}.>`] });
      const bus = busOver();
      const { messages, handler } = collect();
      await bus.subscribe(`${root}.>`, handler);
      await bus.publish(`${root}.a`, 'mine');
      await eventually(() => messages.length === 1, 'the message', 5_000);
      const names: string[] = [];
      for await (const name of jsm.streams.names(`${root}.>`)) names.push(name);
      assert.deepEqual(names, [`${streamPrefix}_OWN_${root}`]);
    } finally {
      await nc.close();
    }
  });

  it('receives what a plain NATS client publishes on a stream subject (JetStream mode)', async () => {
    const root = fresh();
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.sensor.*`, handler);
    const nc = await raw();
    try {
      // Plain core publish: the stream captures it without the publisher knowing JetStream.
      nc.publish(`${root}.sensor.t1`, JSON.stringify({ celsius: 21 }));
      const h = headers();
      h.set('Nats-Msg-Id', 'reading-2');
      h.set('content-type', 'application/octet-stream');
      h.set('x-site', 'north');
      nc.publish(`${root}.sensor.t2`, new Uint8Array([1, 2, 3]), { headers: h });
      await nc.flush();
      await eventually(() => messages.length === 2, 'both plain messages', 5_000);
      const [first, second] = messages;
      assert.deepEqual(first.data, { celsius: 21 });
      assert.equal(first.topic, `${root}.sensor.t1`);
      assert.equal(first.id, `${streamPrefix}_${root}:1`, 'without Nats-Msg-Id the stream position is the id');
      assert.ok(Math.abs(first.time - Date.now()) < 5_000, 'the stream time stands in for the publish time');
      assert.equal(second.id, 'reading-2');
      assert.deepEqual([...(second.data as Uint8Array)], [1, 2, 3]);
      assert.equal(second.headers['x-site'], 'north');
      assert.equal(second.seq, '2');
    } finally {
      await nc.close();
    }
  });

  it('publishes what plain NATS and JetStream clients read, with the documented header layout', async () => {
    const root = fresh();
    const bus = busOver();
    const nc = await raw();
    try {
      const sub = nc.subscribe(`${root}.>`, { max: 1 });
      const got = (async () => {
        for await (const m of sub) return m;
      })();
      const result = await bus.publish(`${root}.user.signed-up`, { name: 'ada' }, {
        id: 'signup-1',
        key: 'user-7',
        ttlMs: 60_000,
        headers: { traceparent: '00-abc-def-01' },
      });
      const m = (await got)!;
      assert.equal(m.subject, `${root}.user.signed-up`);
      assert.deepEqual(m.json(), { name: 'ada' });
      assert.equal(m.headers?.get('Nats-Msg-Id'), 'signup-1');
      assert.equal(m.headers?.get('Omnibus-Key'), 'user-7');
      assert.equal(m.headers?.get('Omnibus-Ttl'), '60000');
      assert.ok(Number(m.headers?.get('Omnibus-Time')) > 0);
      assert.equal(m.headers?.get('content-type'), 'application/json');
      assert.equal(m.headers?.get('traceparent'), '00-abc-def-01');
      // And the stream holds it where the publish said.
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(`${streamPrefix}_${root}`, { seq: Number(result.seq) });
      assert.equal(stored?.header.get('Nats-Msg-Id'), 'signup-1');
    } finally {
      await nc.close();
    }
  });

  it('core mode: plain subjects both ways, queue groups share the work, nothing is kept', async () => {
    const root = fresh();
    const bus = busOver({ mode: 'core' });
    const all = collect();
    const members = [collect(), collect()];
    await bus.subscribe(`${root}.>`, all.handler);
    for (const member of members) await bus.subscribe(`${root}.jobs`, member.handler, { group: 'workers' });
    await assert.rejects(bus.subscribe(`${root}.jobs`, () => {}, { from: 'earliest' }), ConfigurationError);
    await assert.rejects(async () => {
      for await (const _ of bus.read(`${root}.jobs`)) assert.fail('core mode keeps nothing to read');
    }, /core mode keeps no history/);
    const nc = await raw();
    try {
      const seen: string[] = [];
      const sub = nc.subscribe(`${root}.jobs`, { callback: (_error, m) => void seen.push(m.string()) });
      for (let n = 0; n < 40; n++) nc.publish(`${root}.jobs`, JSON.stringify(n));
      await nc.flush();
      await bus.publish(`${root}.jobs`, 'from-omnibus');
      await eventually(() => all.messages.length === 41 && seen.length === 41, 'every message', 5_000);
      const shared = members.flatMap((member) => member.messages.map((m) => m.data));
      assert.equal(shared.length, 41, 'each message to one group member');
      assert.ok(members.every((member) => member.messages.length > 0), 'both members got work');
      assert.equal(seen.at(-1), '"from-omnibus"');
      sub.unsubscribe();
      // Nothing was stored: no stream was created for the root.
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const name of jsm.streams.names(`${root}.>`)) names.push(name);
      assert.deepEqual(names, []);
    } finally {
      await nc.close();
    }
  });

  it('maps topics under a subject prefix', async () => {
    const root = fresh();
    const prefix = `app${run}`;
    const bus = busOver({ subjectPrefix: prefix });
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.*`, handler);
    const nc = await raw();
    try {
      nc.publish(`${prefix}.${root}.x`, JSON.stringify('plain'));
      await nc.flush();
      await eventually(() => messages.length === 1, 'the prefixed message', 5_000);
      assert.equal(messages[0].topic, `${root}.x`);
      const jsm = await jetstreamManager(nc);
      assert.deepEqual((await jsm.streams.info(`${streamPrefix}_${root}`)).config.subjects, [`${prefix}.${root}`, `${prefix}.${root}.>`]);
    } finally {
      await nc.close();
    }
  });

  it('works on a connection the application opened, and leaves it open', async () => {
    const nc = await raw();
    try {
      const root = fresh();
      const bus = new Bus({ drivers: { nats: nats({ connection: nc, streamPrefix }) } });
      const { messages, handler } = collect();
      await bus.subscribe(`${root}.x`, handler);
      await bus.publish(`${root}.x`, 1);
      await eventually(() => messages.length === 1, 'the message', 5_000);
      await bus.close();
      assert.equal(nc.isClosed(), false);
    } finally {
      await nc.close();
    }
  });

  it('fails fast with a ConnectionError naming the address when nothing listens there', async () => {
    const bus = new Bus({ drivers: { nats: nats({ servers: 'nats://127.0.0.1:1' }) } });
    const started = Date.now();
    await assert.rejects(bus.publish('orders.placed', 1), (error: ConnectionError) => {
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.retriable, true);
      assert.match(error.message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
      return true;
    });
    await assert.rejects(bus.subscribe('orders.*', () => {}), ConnectionError);
    assert.ok(Date.now() - started < 3_000, 'no long wait');
    await bus.close();
    await assert.rejects(bus.publish('orders.placed', 1), ClosedError);
  });

  it('is built from a nats:// URL in configuration', async () => {
    const core: Driver = await createDriver({ url: `${NATS_URL}?mode=core&streamPrefix=X` });
    assert.equal(core.name, 'nats');
    assert.equal(core.capabilities.persistent, false);
    const root = fresh();
    const jet = await createDriver({ url: NATS_URL, streamPrefix });
    const bus = new Bus({ drivers: { nats: jet } });
    buses.push(bus);
    assert.ok((await bus.publish(`${root}.configured`, 1)).seq);
    await core.close();
  });

  it('keeps publish order for one subscriber while its pull requests overlap', async () => {
    const root = fresh();
    const topic = `${root}.ordered`;
    // A batch of 4 makes the subscriber ask again every two messages, so requests overlap all along.
    const bus = busOver({ pullBatch: 4 });
    const { messages, handler } = collect();
    await bus.subscribe(topic, handler);
    const count = 300;
    const batch = Array.from({ length: count }, (_, n) => ({ topic, data: n }));
    for (let i = 0; i < count; i += 100) await bus.publishMany(batch.slice(i, i + 100));
    await eventually(() => messages.length === count, `all ${count} messages`, 10_000);
    assert.deepEqual(messages.map((m) => m.data), [...Array(count).keys()]);
  });

  it('a closing group member hands back at once what it holds, long before the ack deadline', async () => {
    const root = fresh();
    const topic = `${root}.jobs`;
    const bus = busOver();
    const seen = new Set<number>();
    let leavingGot = 0;
    // A slow member with a small buffer: the driver holds messages core has no room for yet.
    const leaving = await bus.subscribe(topic, async (m) => {
      leavingGot++;
      seen.add(m.data as number);
      await sleep(20);
    }, { group: 'g', bufferSize: 2, ackDeadlineMs: 60_000 });
    await bus.subscribe(topic, (m) => void seen.add(m.data as number), { group: 'g', ackDeadlineMs: 60_000 });
    const count = 500;
    const batch = Array.from({ length: count }, (_, n) => ({ topic, data: n }));
    for (let i = 0; i < count; i += 100) await bus.publishMany(batch.slice(i, i + 100));
    await eventually(() => leavingGot >= 3, 'the slow member at work', 5_000);
    await leaving.close();
    // What it held comes back by nak, not by the 60 s deadline.
    await eventually(() => seen.size === count, `all ${count} messages`, 10_000);
  });

  it('bus.close() on a group member hands back at once what it never started, and what it acked never comes back', async () => {
    const root = fresh();
    const topic = `${root}.leaving`;
    // Far beyond a hand-back on close, so a busy machine cannot pass one off as the other.
    const ackDeadlineMs = 8_000;
    const leaving = busOver();
    const staying = busOver();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    await leaving.subscribe(topic, async (m) => {
      started.push(m.data as number);
      await gate;
    }, { group: 'g', ackDeadlineMs });
    const count = 50;
    await leaving.publishMany(Array.from({ length: count }, (_, n) => ({ topic, data: n })));
    await eventually(() => started.length === 1, 'the leaving member at work', 5_000);
    const seen: number[] = [];
    await staying.subscribe(topic, (m) => void seen.push(m.data as number), { group: 'g', ackDeadlineMs });
    const closedAt = Date.now();
    const closing = leaving.close();
    release();
    await closing;
    const rest = [...Array(count).keys()].filter((n) => !started.includes(n));
    await eventually(() => rest.every((n) => seen.includes(n)), 'what the leaving member never started', ackDeadlineMs - 1_000);
    // Past the ack deadline: the message the leaving member acked while closing stays acked.
    await sleep(Math.max(0, closedAt + ackDeadlineMs + 1_000 - Date.now()));
    assert.deepEqual(started, [0]);
    assert.ok(!seen.includes(0), 'the message acked by the member that left was delivered again');
    assert.equal(new Set(seen).size, seen.length, 'nothing delivered twice');
  });

  it('read() returns exactly what was stored when it began, in chunks, while a publisher keeps publishing', async () => {
    const root = fresh();
    const topic = `${root}.history`;
    // Chunks of 50: the read asks the server again and again while new messages land.
    const bus = busOver({ pullBatch: 50 });
    const before = 300;
    await bus.publishMany(Array.from({ length: before }, (_, n) => ({ topic, data: n })));
    const read: StoredMessage[] = [];
    let published = before;
    for await (const message of bus.read(`${root}.>`)) {
      read.push(message);
      // A read that followed the publisher would never end; stop it well past the snapshot.
      if (read.length > 2 * before) break;
      await bus.publish(topic, published++);
    }
    assert.deepEqual(read.map((m) => m.data), [...Array(before).keys()]);
    assert.deepEqual(read.map((m) => m.seq), read.map((_, i) => String(i + 1)));
    assert.equal(read[0].topic, topic);
    // From a position, inclusive: the seq a publish returned.
    const from: StoredMessage[] = [];
    for await (const message of bus.read(topic, { from: { seq: '251' } })) from.push(message);
    assert.deepEqual(from.map((m) => m.data), [...Array(published - 250).keys()].map((i) => 250 + i));
    const empty: StoredMessage[] = [];
    for await (const message of bus.read(topic, { from: { seq: String(published + 10) } })) empty.push(message);
    assert.deepEqual(empty, []);
  });

  it('read() over several streams gives their messages oldest first, by the time each was stored', async () => {
    const root = fresh();
    const nc = await raw();
    try {
      const jsm = await jetstreamManager(nc);
      // Two streams an operator made, both under the pattern read below.
      await jsm.streams.add({ name: `${streamPrefix}_${root}_A`, subjects: [`${root}.a.>`] });
      await jsm.streams.add({ name: `${streamPrefix}_${root}_B`, subjects: [`${root}.b.>`] });
      const bus = busOver({ pullBatch: 7 });
      for (let n = 0; n < 40; n++) await bus.publish(`${root}.${n % 3 === 0 ? 'a' : 'b'}.x`, n);
      const read: StoredMessage[] = [];
      for await (const message of bus.read(`${root}.>`)) read.push(message);
      assert.deepEqual(read.map((m) => m.data), [...Array(40).keys()]);
      assert.ok(read.every((m) => m.topic === `${root}.${(m.data as number) % 3 === 0 ? 'a' : 'b'}.x`));
    } finally {
      await nc.close();
    }
  });

  it('breaking off a read() deletes its consumer on the server at once', async () => {
    const root = fresh();
    const topic = `${root}.history`;
    const bus = busOver({ pullBatch: 20 });
    await bus.publishMany(Array.from({ length: 200 }, (_, n) => ({ topic, data: n })));
    const nc = await raw();
    try {
      const jsm = await jetstreamManager(nc);
      const consumers = async () => {
        const names: string[] = [];
        for await (const info of jsm.consumers.list(`${streamPrefix}_${root}`)) names.push(info.name);
        return names;
      };
      let read = 0;
      for await (const message of bus.read(topic)) {
        assert.equal(message.data, read);
        if (++read === 10) {
          assert.equal((await consumers()).length, 1, 'the read holds one consumer while it runs');
          break;
        }
      }
      assert.deepEqual(await consumers(), []);
    } finally {
      await nc.close();
    }
  });

  it('refuses a from that is no position with InvalidPositionError, in read() and subscribe(), before creating anything', async () => {
    const root = fresh();
    const topic = `${root}.positions`;
    const bus = busOver();
    const bad = [{ seq: 'abc' }, { seq: '0' }, { seq: '-3' }, { seq: '1.5' }, { seq: '' }, { time: NaN }, { time: new Date('no date') }];
    for (const from of bad) {
      await assert.rejects(bus.subscribe(topic, () => {}, { from }), InvalidPositionError, `subscribe from ${JSON.stringify(from)}`);
      await assert.rejects(bus.subscribe(topic, () => {}, { from, group: 'g' }), InvalidPositionError);
      await assert.rejects(async () => {
        for await (const _ of bus.read(topic, { from })) assert.fail('nothing to read');
      }, InvalidPositionError);
    }
    await assert.rejects(bus.subscribe(topic, () => {}, { from: { seq: 'abc' } }), /seq: "abc".*positive integer/);
    const nc = await raw();
    try {
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const name of jsm.streams.names(`${root}.>`)) names.push(name);
      assert.deepEqual(names, [], 'no stream was created for the refused subscriptions');
    } finally {
      await nc.close();
    }
  });

  it('never delivers again a message whose ack() resolved, across broker restarts mid-consumption', async (t) => {
    const server = await startPrivateNats();
    const root = fresh();
    const topic = `${root}.acked`;
    const group = 'acked';
    // Longer than a restart and an ack timeout together, so only an ack the server never
    // recorded can bring a message back.
    const ackDeadlineMs = 8_000;
    const bus = busOver({ servers: server.url, ackTimeoutMs: 2_000 });
    bus.on('error', () => {});
    const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const count = 20_000;
      for (let from = 0; from < count; from += 1_000) {
        await bus.publishMany(Array.from({ length: Math.min(1_000, count - from) }, (_, i) => ({ topic, data: from + i })));
      }
      const resolved = new Set<number>();
      const seen = new Set<number>();
      const againAfterAck = new Set<number>();
      // Delivered again with a delivery count of 1: the server forgot the delivery itself, not
      // only its ack. nats-server 2.9 does that, rarely, when stopped while acks stream in, and
      // no ack can guard against it (docs/nats.md); counted apart, and the consumer checked to
      // be the one the driver created, so the driver cannot be the cause.
      const forgotten = new Set<number>();
      let handled = 0;
      let rejected = 0;
      let restarting: Promise<void> = Promise.resolve();
      const restarts = [count / 4, count / 2];
      await bus.subscribe(topic, (m) => {
        const n = m.data as number;
        if (resolved.has(n)) (m.attempt === 1 ? forgotten : againAfterAck).add(n);
        seen.add(n);
        m.ack().then(() => resolved.add(n), () => rejected++);
        // The server gets SIGTERM here, while acks stream out.
        if (restarts.includes(++handled)) restarting = restarting.then(() => server.stop()).then(() => server.start());
      }, { group, from: 'earliest', ack: 'manual', ackDeadlineMs });
      const jsm = await jetstreamManager(nc);
      const subscribedAt = Date.now();
      await eventually(() => handled >= restarts[1], 'the consumption to reach the second restart', 20_000);
      await restarting;
      await eventually(() => seen.size === count, `all ${count} messages handled`, 20_000);
      // Done when the server holds an ack for every message: what it lost comes back meanwhile.
      const deadline = Date.now() + 3 * ackDeadlineMs;
      for (;;) {
        const info = await jsm.consumers.info(`${streamPrefix}_${root}`, durableName(group, topic)).catch(() => undefined);
        if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) {
          assert.ok(Date.parse(info.created) <= subscribedAt, `the consumer is the one the subscription created, not one made since (${info.created})`);
          break;
        }
        assert.ok(Date.now() < deadline, `the server still waits for acks: ${JSON.stringify(info && { pending: info.num_pending, ackPending: info.num_ack_pending })}`);
        await sleep(100);
      }
      assert.deepEqual(
        [...againAfterAck].sort((a, b) => a - b),
        [],
        `delivered again after their ack() resolved (${rejected} acks rejected, ${resolved.size} resolved)`,
      );
      // The server replays such a consumer from its start, so the first message is among them; a
      // delivery the driver handed over twice at a reconnect would be a recent one instead.
      if (forgotten.size > 0) {
        assert.ok(forgotten.has(0), `delivered again as new, but not from the consumer's start: ${[...forgotten].slice(0, 10)}`);
        t.diagnostic(`the server forgot its consumer's state: ${forgotten.size} acked messages delivered again as new`);
      }
    } finally {
      await bus.close();
      await nc.close();
      await server.dispose();
    }
  });

  it('reports connectionLost and reconnected on each server restart; subscribers resume by themselves, publishers get ConnectionError meanwhile, nothing acknowledged is lost', async () => {
    const server = await startPrivateNats();
    const root = fresh();
    const topic = `${root}.restart`;
    const bus = busOver({ servers: server.url, publishTimeoutMs: 1_000 });
    const connection = connectionEvents(bus, 'nats');
    bus.on('error', () => {});
    const acknowledged: number[] = [];
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++) acknowledged.push((await bus.publish(topic, n), n));
    };
    try {
      const subscriptions = await restartSubscriptions(bus, root, topic);
      await throughTwoOutages({
        server, connection, subscriptions, publish,
        whileDown: (outage) => assert.rejects(bus.publish(topic, -outage), ConnectionError),
      });
      // A refused publish may still land once the server is back; count only the numbered ones.
      assert.deepEqual([...subscriptions.grouped].filter((n) => n >= 0).sort((a, b) => a - b), acknowledged);
    } finally {
      await bus.close();
      await server.dispose();
    }
  });
});
