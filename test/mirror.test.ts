// Local-first mirroring: a route delivers in process at once and copies each message to a
// broker, for other processes; the bus's own subscribers never get the broker's echo. Run on
// memory + SQLite, memory + NATS and memory + Kafka, each with two buses (two processes as the
// broker sees them) and one real second process.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createBus } from '../src/create-bus.js';
import type { Bus } from '../src/core/bus.js';
import type { Driver } from '../src/core/driver.js';
import { ConfigurationError } from '../src/core/errors.js';
import { HEADER, type Message } from '../src/core/message.js';
import { memory } from '../src/drivers/memory/index.js';
import { kafka } from '../src/drivers/kafka/index.js';
import { nats } from '../src/drivers/nats/index.js';
import { sqlite } from '../src/drivers/sqlite/index.js';
import { createBusFromConfig } from '../src/config/index.js';
import { eventually } from '../src/testing/wait.js';
import { kafkaForTests } from './support/kafka.js';
import { deleteStreams, NATS_URL, natsSkip, startPrivateNats } from './support/nats.js';

const run = promisify(execFile);

function mirroredBus(broker: Driver, root = 'game'): Bus {
  return createBus({ drivers: { local: memory(), broker }, routes: [{ topics: [`${root}.>`], driver: 'local', mirror: ['broker'] }] });
}

/** What a handler got, in order, as `topic n`. */
function collect(bus: Bus, pattern: string, options: { group?: string } = {}): Promise<string[]> & { seen: string[] } {
  const seen: string[] = [];
  const subscribed = bus.subscribe(pattern, (msg: Message<{ n: number }>) => void seen.push(`${msg.topic} ${msg.data.n}`), options);
  return Object.assign(subscribed.then(() => seen), { seen });
}

/** The same cases on each broker: `broker()` makes a driver on one shared place (file, stream prefix, cluster). */
function mirrorCases(name: string, broker: () => Driver, topicRoot: string) {
  describe(`mirroring memory to ${name}`, () => {
    it("delivers in the same tick to this bus, once, and through the broker to another bus; the broker's echo is skipped", async () => {
      const a = mirroredBus(broker(), topicRoot);
      const b = mirroredBus(broker(), topicRoot);
      try {
        const reader = a.reader<{ n: number }>(`${topicRoot}.>`);
        reader.read();
        await reader.ready();
        const onA = collect(a, `${topicRoot}.>`);
        const onB = collect(b, `${topicRoot}.>`);
        await Promise.all([onA, onB]);

        const writer = a.writer(`${topicRoot}.hit`);
        const framed: string[] = [];
        for (let n = 1; n <= 3; n++) {
          // One key throughout: per-key order holds on every broker, which the marker below relies on.
          assert.equal(writer.write({ n }, { key: 'player-1' }).ok, true);
          // The same tick: the local driver handed it over before write() returned.
          framed.push(...reader.read().map((msg) => `${msg.topic} ${msg.data.n}`));
        }
        assert.deepEqual(framed, [1, 2, 3].map((n) => `${topicRoot}.hit ${n}`));
        const expected = [1, 2, 3].map((n) => `${topicRoot}.hit ${n}`);
        await eventually(() => onB.seen.length >= 3, `bus b to get a's three messages through ${name}`, 20_000);

        // A message b mirrors after them, on their key, reaches a through the broker only after
        // a's own echoes: once it is here, every echo was skipped or never will be seen.
        await b.publish(`${topicRoot}.marker`, { n: 0 }, { key: 'player-1' });
        await eventually(() => onA.seen.includes(`${topicRoot}.marker 0`), `a to get b's marker through ${name}`, 20_000);
        assert.deepEqual(onA.seen, [...expected, `${topicRoot}.marker 0`], "a's handler: its own three once, then b's marker");
        await eventually(() => onB.seen.length >= 4, 'b to get its own marker locally');
        assert.deepEqual(onB.seen, [...expected, `${topicRoot}.marker 0`]);
        const later: string[] = [];
        await eventually(() => later.push(...reader.read().map((msg) => `${msg.topic} ${msg.data.n}`)) > 0, "a's reader to get b's marker");
        assert.deepEqual(later, [`${topicRoot}.marker 0`]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("marks the broker's copy with the publishing bus's id, and publish() resolves once the broker has it", async () => {
      const a = mirroredBus(broker(), topicRoot);
      const b = mirroredBus(broker(), topicRoot);
      try {
        const got: Message[] = [];
        await b.subscribe(`${topicRoot}.origin`, (msg) => void got.push(msg));
        await a.publish(`${topicRoot}.origin`, { n: 7 }, { headers: { 'x-app': 'game' } });
        await eventually(() => got.length === 1, `b to get a's message through ${name}`, 20_000);
        assert.equal(got[0].headers[HEADER.origin], a.id);
        assert.equal(got[0].headers['x-app'], 'game');
        assert.deepEqual(got[0].data, { n: 7 });
        assert.equal(a.stats().byDriver.broker.published, 1);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
}

describe('mirroring', () => {
  describe('configuration', () => {
    it('refuses a mirror that is not among the drivers, the route\'s own driver, or an in-process one', () => {
      const routes = (mirror: string[]) => [{ topics: ['game.>'], driver: 'local', mirror }];
      assert.throws(() => createBus({ drivers: { local: memory() }, routes: routes(['kafka']) }), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /names mirror 'kafka', which is not among: local/);
        return true;
      });
      assert.throws(() => createBus({ drivers: { local: memory() }, routes: routes(['local']) }), /mirrors driver 'local' to itself/);
      assert.throws(() => createBus({ drivers: { local: memory(), other: memory() }, routes: routes(['other']) }), /an in-process driver; a mirror must be a broker/);
    });

    it('refuses a delayed publish when a mirror cannot delay, naming the mirror', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'omnibus-mirror-'));
      const bus = createBus({
        drivers: { local: memory(), broker: nats({ servers: 'nats://127.0.0.1:1', mode: 'core' }) },
        routes: [{ topics: ['game.>'], driver: 'local', mirror: ['broker'] }],
      });
      try {
        await assert.rejects(bus.publish('game.later', 1, { delayMs: 100 }), /mirror 'nats' cannot delay delivery/);
      } finally {
        await bus.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('on SQLite', () => {
    let dir: string;
    before(async () => (dir = await mkdtemp(join(tmpdir(), 'omnibus-mirror-'))));
    after(() => rm(dir, { recursive: true, force: true }));
    const path = () => join(dir, 'mirror.db');
    mirrorCases('SQLite', () => sqlite({ path: path() }), 'game');

    it('a group listens through the mirror: each message once across its members, wherever it was published', async () => {
      const a = mirroredBus(sqlite({ path: path() }));
      const b = mirroredBus(sqlite({ path: path() }));
      try {
        const onA = collect(a, 'game.grouped', { group: 'scores' });
        const onB = collect(b, 'game.grouped', { group: 'scores' });
        await Promise.all([onA, onB]);
        for (let n = 1; n <= 10; n++) await (n % 2 === 0 ? a : b).publish('game.grouped', { n });
        await eventually(() => onA.seen.length + onB.seen.length >= 10, 'the group to handle all ten');
        // Ten more from a: if any were still to come twice they would be before these.
        for (let n = 11; n <= 20; n++) await a.publish('game.grouped', { n });
        await eventually(() => onA.seen.length + onB.seen.length >= 20, 'the group to handle all twenty');
        const handled = [...onA.seen, ...onB.seen].map((line) => Number(line.split(' ')[1])).sort((x, y) => x - y);
        assert.deepEqual(handled, Array.from({ length: 20 }, (_, i) => i + 1));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('another process sees what this one mirrored, from omnibus.config.json', async () => {
      const configDir = join(dir, 'config');
      await import('node:fs/promises').then((fs) => fs.mkdir(configDir, { recursive: true }));
      const config = {
        drivers: { local: { type: 'memory' }, shared: { type: 'sqlite', path: join(dir, 'processes.db') } },
        routes: [{ topics: ['game.>'], driver: 'local', mirror: ['shared'] }],
      };
      await writeFile(join(configDir, 'omnibus.config.json'), JSON.stringify(config));
      const here = await createBusFromConfig({ path: join(configDir, 'omnibus.config.json') });
      try {
        const got = collect(here, 'game.>');
        await got;
        const script = `
          import { createBusFromConfig } from ${JSON.stringify(join(process.cwd(), 'src/config/index.ts'))};
          const bus = await createBusFromConfig({ path: ${JSON.stringify(join(configDir, 'omnibus.config.json'))} });
          let local = 0;
          await bus.subscribe('game.>', () => void local++);
          await bus.publish('game.from-child', { n: 1 });
          console.log(JSON.stringify({ local }));
          await bus.close();`;
        const { stdout } = await run(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { timeout: 30_000 });
        assert.deepEqual(JSON.parse(stdout.trim()), { local: 1 }, 'the child got its own message in process, once');
        await eventually(() => got.seen.length === 1, 'this process to get the child\'s message through SQLite');
        assert.deepEqual(got.seen, ['game.from-child 1']);
      } finally {
        await here.close();
      }
    });
  });

  describe('on NATS', async () => {
    const skip = await natsSkip();
    const prefix = `MIRROR${randomUUID().slice(0, 8).toUpperCase()}`;
    after(() => (skip ? undefined : deleteStreams(prefix)));
    if (skip) return it('needs NATS', (t) => t.skip(skip));
    mirrorCases('NATS', () => nats({ servers: NATS_URL, streamPrefix: prefix }), 'game');

    it('a broker outage leaves the local path working and reports each failed copy', async () => {
      const server = await startPrivateNats();
      const bus = mirroredBus(nats({ servers: server.url, streamPrefix: prefix, publishTimeoutMs: 1_000 }));
      try {
        const failed: string[] = [];
        bus.on('deliveryFailed', (event) => void failed.push(`${event.topic} ${event.driver}`));
        const reader = bus.reader<{ n: number }>('game.>');
        reader.read();
        await reader.ready();
        await bus.publish('game.before', { n: 0 });
        await server.stop();
        const writer = bus.writer('game.during');
        for (let n = 1; n <= 3; n++) assert.equal(writer.write({ n }).ok, true);
        assert.deepEqual(reader.read().map((msg) => `${msg.topic} ${msg.data.n}`), ['game.before 0', 'game.during 1', 'game.during 2', 'game.during 3']);
        // publish() itself resolves: the local delivery stands, the copy's failure is an event.
        await bus.publish('game.during', { n: 4 });
        await eventually(() => failed.length >= 4, 'a deliveryFailed for each copy the stopped broker could not take', 30_000);
        assert.deepEqual(failed, Array(4).fill('game.during nats'));
      } finally {
        await bus.close();
        await server.dispose();
      }
    });
  });

  describe('on Kafka', async () => {
    const { skip, brokers } = await kafkaForTests();
    if (skip) return it('needs Kafka', (t) => t.skip(skip));
    // Topics of their own, so runs never meet in the shared broker.
    mirrorCases('Kafka', () => kafka({ brokers, topicRefreshMs: 500 }), `game-${randomUUID().slice(0, 8)}`);
  });
});
