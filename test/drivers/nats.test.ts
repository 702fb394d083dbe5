// The NATS driver against a real nats-server: stream and consumer layout, interop with plain
// NATS clients both ways, core mode, configuration, and a server restart mid-stream.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import type { Driver } from '../../src/core/driver.js';
import { ClosedError, ConfigurationError, ConnectionError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { nats, type NatsOptions } from '../../src/drivers/nats.js';
import { durableName } from '../../src/drivers/nats/jetstream.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { deleteStreams, NATS_URL, natsSkip } from '../support/nats.js';

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

const NATS_SERVER = '/usr/sbin/nats-server';
const startServer = () =>
  execFileSync('start-stop-daemon', [
    '--start', '--oknodo', '--background', '--exec', NATS_SERVER, '--',
    '-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log',
  ]);
const stopServer = () => execFileSync('start-stop-daemon', ['--stop', '--oknodo', '--retry', '10', '--exec', NATS_SERVER]);

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

  it('survives a server restart: subscribers resume by themselves, publishers get ConnectionError, nothing acknowledged is lost', async () => {
    const root = fresh();
    const topic = `${root}.restart`;
    const bus = busOver({ publishTimeoutMs: 1_000 });
    const events: string[] = [];
    bus.on('connectionLost', () => events.push('lost'));
    bus.on('reconnected', () => events.push('back'));
    bus.on('error', () => {});
    const grouped = new Set<number>();
    const fanout = new Set<number>();
    await bus.subscribe(topic, (m) => void grouped.add(m.data as number), { group: 'survivors' });
    await bus.subscribe(topic, (m) => void fanout.add(m.data as number));
    const acknowledged: number[] = [];
    const publish = async (n: number) => {
      // A publisher that retries on ConnectionError; the id keeps a retry from storing twice.
      for (let tries = 0; ; tries++) {
        try {
          await bus.publish(topic, n, { id: `${root}-${n}` });
          acknowledged.push(n);
          return;
        } catch (error) {
          assert.ok(error instanceof ConnectionError, `publish failed with ${(error as Error).name}`);
          if (tries > 40) throw error;
          await sleep(250);
        }
      }
    };
    try {
      for (let n = 0; n < 30; n++) await publish(n);
      await eventually(() => grouped.size === 30 && fanout.size === 30, 'the first 30', 5_000);
      stopServer();
      await eventually(() => events.includes('lost'), 'connectionLost', 5_000);
      await assert.rejects(bus.publish(topic, -1, { id: `${root}-down` }), ConnectionError);
      startServer();
      for (let n = 30; n < 60; n++) await publish(n);
      await eventually(() => events.includes('back'), 'reconnected', 10_000);
      // The refused publish may still land once the server is back; count only the numbered ones.
      const counted = (set: Set<number>) => [...set].filter((n) => n >= 0).length;
      await eventually(() => counted(grouped) === 60 && counted(fanout) === 60, 'all 60 after the restart', 15_000);
      assert.deepEqual([...grouped].filter((n) => n >= 0).sort((a, b) => a - b), acknowledged.sort((a, b) => a - b));
    } finally {
      startServer();
    }
  });
});
