// The same example program on every driver, switched only by configuration.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDefaultUser } from '../../src/drivers/postgres/options.js';
import { brokerSkip } from '../support/broker.js';
import { kafkaForTests } from '../support/kafka.js';
import { deleteStreams, NATS_START, NATS_URL } from '../support/nats.js';
import { deleteKeys, REDIS_START, REDIS_URL } from '../support/redis.js';

const run = promisify(execFile);
const PG_URL = process.env.PG_URL ?? 'postgres://127.0.0.1:5432/test';
const PG_START = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
const id = `swap${randomUUID().slice(0, 8)}`;
const expected = ['order-1', 'order-2', 'order-3', 'order-4', 'order-5'];
const kafkaBrokers = await kafkaForTests();

async function example(env: Record<string, string>, cwd: string): Promise<{ driver: string; billed: string[] }> {
  const { stdout } = await run(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'examples/config-swap.ts')], {
    cwd,
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('the config-swap example runs unchanged on every driver', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'omnibus-swap-'))));
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('memory: (the default, with no config at all)', async () => {
    assert.deepEqual(await example({}, dir), { driver: 'memory', billed: expected });
  });

  it('sqlite: through OMNIBUS_URL', async () => {
    const result = await example({ OMNIBUS_URL: `sqlite:${join(dir, 'swap.db')}` }, dir);
    assert.deepEqual(result, { driver: 'sqlite', billed: expected });
  });

  it('nats:// through OMNIBUS_URL', async (t) => {
    const skip = await brokerSkip({ name: 'NATS', url: NATS_URL, start: NATS_START });
    if (skip) return t.skip(skip);
    try {
      const result = await example({ OMNIBUS_URL: `${NATS_URL}?streamPrefix=${id.toUpperCase()}` }, dir);
      assert.deepEqual(result, { driver: 'nats', billed: expected });
    } finally {
      await deleteStreams(id.toUpperCase());
    }
  });

  it('redis:// through omnibus.config.json', async (t) => {
    const skip = await brokerSkip({ name: 'Redis', url: REDIS_URL, start: REDIS_START });
    if (skip) return t.skip(skip);
    const configDir = join(dir, 'redis');
    await rm(configDir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(configDir));
    await writeFile(join(configDir, 'omnibus.config.json'), JSON.stringify({ driver: { url: REDIS_URL, keyPrefix: `${id}:` } }));
    try {
      assert.deepEqual(await example({}, configDir), { driver: 'redis', billed: expected });
    } finally {
      await deleteKeys(`${id}:`);
    }
  });

  it('kafka:// through OMNIBUS_URL', async (t) => {
    if (kafkaBrokers.skip) return t.skip(kafkaBrokers.skip);
    // The example's topics and group are fixed; a client id of this run keeps runs apart in the broker's view only.
    const result = await example({ OMNIBUS_URL: `kafka://${kafkaBrokers.brokers.join(',')}?clientId=${id}` }, dir);
    assert.deepEqual(result, { driver: 'kafka', billed: expected });
  });

  it('postgres:// through OMNIBUS_URL', async (t) => {
    const skip = await brokerSkip({ name: 'PostgreSQL', url: PG_URL, start: PG_START });
    if (skip) return t.skip(skip);
    try {
      const result = await example({ OMNIBUS_URL: `${PG_URL}?schema=${id}` }, dir);
      assert.deepEqual(result, { driver: 'postgres', billed: expected });
    } finally {
      const client = new pg.Client({ connectionString: withDefaultUser(PG_URL) });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
      await client.end();
    }
  });

  it('mqtt:// through OMNIBUS_URL', async (t) => {
    const { endSessions, MQTT_URL, mqttSkip } = await import('../support/mqtt.js');
    const { memberClientId } = await import('../../src/drivers/mqtt/members.js');
    const skip = await mqttSkip();
    if (skip) return t.skip(skip);
    // The example's group is fixed; a member name of this run gives it a session of its own,
    // ended afterwards: an offline member's session would take its share of the next run's orders.
    try {
      const result = await example({ OMNIBUS_URL: `${MQTT_URL}?clientId=${id}` }, dir);
      assert.deepEqual(result, { driver: 'mqtt', billed: expected });
    } finally {
      await endSessions([memberClientId(id, 'billing', 'shop.orders.*', 0)]);
    }
  });

  it('kinesis:// through OMNIBUS_URL, its group checkpointed in a SQLite file', async () => {
    // Imported here, so this case alone starts a kinesalite of its own.
    const { startKinesalite } = await import('../support/kinesis.js');
    const kinesalite = await startKinesalite();
    try {
      const checkpoints = join(dir, 'kinesis-checkpoints.db');
      const result = await example({ OMNIBUS_URL: `kinesis://127.0.0.1:${kinesalite.port}?checkpoints=sqlite:${checkpoints}` }, dir);
      assert.deepEqual(result, { driver: 'kinesis', billed: expected });
    } finally {
      await kinesalite.dispose();
    }
  });

  it('amqp:// through OMNIBUS_URL', async (t) => {
    const { AMQP_URL, amqpSkip, deleteExchange } = await import('../support/amqp.js');
    const skip = await amqpSkip();
    if (skip) return t.skip(skip);
    try {
      const result = await example({ OMNIBUS_URL: `${AMQP_URL}?exchange=${id}` }, dir);
      assert.deepEqual(result, { driver: 'amqp', billed: expected });
    } finally {
      await deleteExchange(id);
    }
  });
});
