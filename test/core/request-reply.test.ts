// Request/reply on every driver named in issue 18, against the real services: the round trip,
// a group of two answering each request once, a responder's failure as RemoteError, no
// responder as TimeoutError (NoRespondersError on NATS), headers flowing through, stale
// requests left unanswered on durable drivers, and typed events as request targets.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { z } from 'zod';
import { gatewayDriver } from '../../src/client/driver.js';
import { Bus } from '../../src/core/bus.js';
import type { Driver } from '../../src/core/driver.js';
import { ClosedError, ConfigurationError, NoRespondersError, RemoteError, TimeoutError, ValidationError } from '../../src/core/errors.js';
import { defineEvent } from '../../src/core/event.js';
import { memory } from '../../src/drivers/memory/index.js';
import { nats } from '../../src/drivers/nats/index.js';
import { postgres } from '../../src/drivers/postgres/index.js';
import { redis } from '../../src/drivers/redis/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';
import { deleteStreams, NATS_URL, natsSkip } from '../support/nats.js';
import { PG_URL, postgresSkip } from '../support/postgres.js';
import { deleteKeys, REDIS_URL, redisSkip } from '../support/redis.js';

const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'omnibus-request-'));
const streamPrefix = `OMNIREQ${run}`;
const keyPrefix = `omnibus-request-${run}:`;
const schema = `request_${run}`;
let gateway: Promise<Running> | undefined;

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await (await gateway)?.close();
  if ((await natsSkip()) === false) await deleteStreams(streamPrefix);
  if ((await redisSkip()) === false) await deleteKeys(keyPrefix);
  if ((await postgresSkip()) === false) {
    const pool = new pg.Pool({ connectionString: PG_URL });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
});

interface Case {
  name: string;
  driver: () => Promise<Driver> | Driver;
  skip?: () => Promise<string | false>;
  /** Requests and replies are stored, so a responder may find requests whose requester gave up. */
  durable?: boolean;
  /** The broker tells at once that nobody responds. */
  noResponders?: boolean;
  /** Each driver is a world of its own (memory): requester and responder share one bus. */
  inProcess?: boolean;
}

const cases: Case[] = [
  { name: 'memory', driver: () => memory(), inProcess: true },
  { name: 'memory (round trip through bytes)', driver: () => memory({ roundTrip: true }), inProcess: true },
  { name: 'sqlite', driver: () => sqlite({ path: join(dir, 'request.db') }), durable: true },
  { name: 'nats (jetstream)', driver: () => nats({ servers: NATS_URL, streamPrefix }), skip: natsSkip, noResponders: true },
  { name: 'nats (core)', driver: () => nats({ servers: NATS_URL, mode: 'core' }), skip: natsSkip, noResponders: true },
  { name: 'redis', driver: () => redis({ url: REDIS_URL, keyPrefix }), skip: redisSkip, durable: true },
  { name: 'postgres', driver: () => postgres({ connectionString: PG_URL, schema, poolSize: 5 }), skip: postgresSkip, durable: true },
  {
    name: 'gateway client (gatewayDriver) over memory',
    driver: async () => {
      gateway ??= startGateway();
      const driver = gatewayDriver({ url: (await gateway).url, WebSocket: NodeWebSocket });
      await driver.ready();
      return driver;
    },
  },
];

let topics = 0;
/** A topic no other case or run uses. */
const fresh = (name: string) => `rr${run}x${topics++}.${name}`;

class Failure extends Error {
  override name = 'OutOfStock';
  readonly code = 'OUT_OF_STOCK';
}

for (const c of cases) {
  describe(`request/reply on ${c.name}`, { skip: await c.skip?.() }, () => {
    const buses: Bus[] = [];
    const busOver = async () => {
      const bus = new Bus({ drivers: { [c.name]: await c.driver() } });
      buses.push(bus);
      return bus;
    };
    /** A requester's bus and a responder's: two processes' worth where the driver allows. */
    const pair = async () => {
      const requester = await busOver();
      return [requester, c.inProcess ? requester : await busOver()];
    };
    after(() => Promise.all(buses.map((bus) => bus.close())));

    it('resolves with the reply the responder returned, sync or async', async () => {
      const [requester, responder] = await pair();
      const sum = fresh('sum');
      const later = fresh('later');
      await responder.respond<{ a: number; b: number }>(sum, ({ data }) => data.a + data.b);
      await responder.respond(later, async ({ data }) => ({ echoed: data }));
      const reply = await requester.request<number>(sum, { a: 2, b: 3 });
      assert.equal(reply.data, 5);
      assert.deepEqual((await requester.request(later, 'hi')).data, { echoed: 'hi' });
    });

    it('answers each request once between two responders of a group', async () => {
      const [requester, responder] = await pair();
      const topic = fresh('grouped');
      const answered = [0, 0];
      for (const member of [0, 1]) {
        await responder.respond(topic, ({ data }) => {
          answered[member]++;
          return data;
        }, { group: 'quoters' });
      }
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => requester.request(topic, i, { timeoutMs: 10_000 })));
      assert.deepEqual(replies.map((reply) => reply.data), Array.from({ length: 50 }, (_, i) => i));
      assert.equal(answered[0] + answered[1], 50, `answered ${answered.join(' + ')} times`);
    });

    it('fails with RemoteError carrying the message, code and name the responder threw', async () => {
      const bus = await busOver();
      const topic = fresh('failing');
      await bus.respond(topic, () => {
        throw new Failure('no stock left for sku-1');
      });
      const error = await bus.request(topic, { sku: 'sku-1' }).then(() => undefined, (error: unknown) => error);
      assert.ok(error instanceof RemoteError, `got ${String(error)}`);
      assert.equal(error.message, 'no stock left for sku-1');
      assert.equal(error.remoteCode, 'OUT_OF_STOCK');
      assert.equal(error.remoteName, 'OutOfStock');
      assert.equal(error.topic, topic);
    });

    it(c.noResponders ? 'fails at once with NoRespondersError when nobody responds' : 'fails with TimeoutError within timeoutMs when nobody responds', async () => {
      const bus = await busOver();
      const started = Date.now();
      const error = await bus.request(fresh('nobody'), 1, { timeoutMs: 400 }).then(() => undefined, (error: unknown) => error);
      const elapsed = Date.now() - started;
      if (c.noResponders) {
        assert.ok(error instanceof NoRespondersError, `got ${String(error)}`);
        assert.ok(elapsed < 300, `took ${elapsed} ms`);
      } else {
        assert.ok(error instanceof TimeoutError, `got ${String(error)}`);
        assert.equal(error.timeoutMs, 400);
        assert.ok(elapsed >= 390 && elapsed < 1_000, `took ${elapsed} ms`);
      }
    });

    it('carries the correlation id and user headers to the responder and the correlation id back', async () => {
      const bus = await busOver();
      const topic = fresh('headers');
      let seen: Record<string, string> | undefined;
      await bus.respond(topic, async (request) => {
        seen = { ...request.headers };
        return 'ok';
      });
      const reply = await bus.request(topic, null, { headers: { 'correlation-id': 'order-42', 'x-tenant': 'acme' } });
      assert.equal(seen?.['correlation-id'], 'order-42');
      assert.equal(seen?.['x-tenant'], 'acme');
      assert.equal(reply.headers['correlation-id'], 'order-42');
    });

    it('validates typed requests at the call and hands the responder the parsed payload', async () => {
      const bus = await busOver();
      const Quote = defineEvent(fresh('quote'), z.object({ sku: z.string(), quantity: z.coerce.number() }));
      await bus.respond(Quote, ({ data }) => data.quantity * 2);
      assert.equal((await bus.request<number>(Quote, { sku: 'a', quantity: 4 })).data, 8);
      await assert.rejects(bus.request(Quote, { sku: 1 } as never), ValidationError);
      // A request that skipped validation (a plain topic) gets the schema's verdict as a RemoteError.
      await assert.rejects(bus.request(Quote.topic, { sku: 'a' }), (error: unknown) => error instanceof RemoteError && error.remoteCode === 'VALIDATION_FAILED');
    });

    it('rejects a request still waiting with ClosedError when its bus closes', async () => {
      const bus = await busOver();
      const topic = fresh('closing');
      // A responder that never answers: on NATS the server would otherwise say at once that nobody listens.
      let release: (value: unknown) => void = () => {};
      await bus.respond(topic, () => new Promise((resolve) => (release = resolve)));
      const waiting = bus.request(topic, 1, { timeoutMs: 30_000 });
      const started = Date.now();
      await new Promise((resolve) => setImmediate(resolve));
      const closing = bus.close();
      await assert.rejects(waiting, ClosedError);
      assert.ok(Date.now() - started < 5_000);
      release(null);
      await assert.rejects(bus.request(topic, 2), ClosedError);
      await closing;
    });

    if (c.durable) {
      it('leaves stored requests whose requester gave up unanswered', async () => {
        const [requester, responder] = await pair();
        const topic = fresh('stale');
        const seen: unknown[] = [];
        // The group exists, so what is published while no member runs waits for the next one.
        await (await responder.respond(topic, ({ data }) => seen.push(data), { group: 'late' })).close();
        await assert.rejects(requester.request(topic, 'stale', { timeoutMs: 200 }), TimeoutError);
        await responder.respond(topic, ({ data }) => seen.push(data), { group: 'late' });
        await requester.request(topic, 'fresh', { timeoutMs: 10_000 });
        assert.deepEqual(seen, ['fresh']);
      });
    }
  });
}

describe('request/reply on nats stays out of JetStream', { skip: await natsSkip() }, () => {
  const buses: Bus[] = [];
  after(() => Promise.all(buses.map((bus) => bus.close())));
  const busOver = (prefix = streamPrefix) => {
    const bus = new Bus({ drivers: { nats: nats({ servers: NATS_URL, streamPrefix: prefix }) } });
    buses.push(bus);
    return bus;
  };

  it('stores neither requests nor replies in the stream of the topic', async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const { connect } = await import('@nats-io/transport-node');
    const bus = busOver();
    const topic = fresh('stored');
    // The topic's stream exists (an ordinary publish made it), so a request captured by it would show.
    await bus.publish(topic, 'ordinary');
    await bus.respond(topic, ({ data }) => data);
    for (let i = 0; i < 5; i++) assert.equal((await bus.request(topic, i)).data, i);
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = await jsm.streams.find(topic);
      assert.equal((await jsm.streams.info(stream)).state.messages, 1);
      const capturing: string[] = [];
      for await (const name of jsm.streams.names(`_request.${topic}`)) capturing.push(name);
      assert.deepEqual(capturing, []);
    } finally {
      await nc.close();
    }
  });

  it("refuses to respond where an operator's stream captures the request subject, naming it", async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const { connect } = await import('@nats-io/transport-node');
    const topic = fresh('captured');
    const name = `${streamPrefix}_requests`;
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name, subjects: [`_request.${topic.split('.')[0]}.>`], storage: 'memory' });
      const bus = busOver();
      await assert.rejects(bus.respond(topic, () => 1), (error: unknown) => error instanceof ConfigurationError && error.message.includes(name));
      await assert.rejects(bus.request(topic, 1), ConfigurationError);
    } finally {
      await nc.close();
    }
  });
});
