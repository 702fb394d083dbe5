import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBusFromConfig, loadConfig } from '../../src/config/index.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { eventually } from '../../src/testing/wait.js';

describe('createBusFromConfig', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'omnibus-config-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('builds an in-memory bus when neither file nor environment says otherwise', async () => {
    const bus = await createBusFromConfig({ path: undefined, env: {} });
    assert.deepEqual(bus.drivers.map((d) => d.name), ['memory']);
    const got: unknown[] = [];
    await bus.subscribe('a.b', (m) => void got.push(m.data));
    await bus.publish('a.b', 1);
    await eventually(() => got.length === 1, 'delivery');
    await bus.close();
  });

  it('reads drivers and routes from a config file', async () => {
    const path = join(dir, 'omnibus.config.json');
    await writeFile(path, JSON.stringify({
      drivers: { fast: { type: 'memory' }, other: { url: 'memory:', roundTrip: true } },
      routes: [{ topics: ['game.>'], driver: 'fast' }, { topics: ['>'], driver: 'other' }],
    }));
    const bus = await createBusFromConfig({ path, env: {} });
    assert.deepEqual(bus.drivers.map((d) => d.name), ['fast', 'other']);
    assert.equal(bus.drivers[1].driver.carriesValues, false, 'options reach the driver');
    await bus.publish('game.x', 1);
    await bus.publish('orders.x', 1);
    assert.deepEqual(bus.stats().byDriver, { fast: { published: 1 }, other: { published: 1 } });
    await bus.close();
  });

  it('lets OMNIBUS_URL replace the file driver', async () => {
    const path = join(dir, 'routes.json');
    await writeFile(path, JSON.stringify({ driver: { type: 'nope' } }));
    const config = await loadConfig({ path, env: { OMNIBUS_URL: 'memory:' } });
    assert.deepEqual(config.driver, { url: 'memory:' });
  });

  it('names what is wrong in a bad config', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ driver: {}, extra: 1 }));
    await assert.rejects(loadConfig({ path, env: {} }), (error: ConfigurationError) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /extra|driver/);
      return true;
    });
    await assert.rejects(createBusFromConfig({ env: { OMNIBUS_URL: 'kafka2://x' } }), /unknown scheme/);
    await writeFile(path, JSON.stringify({ driver: { type: 'carrier-pigeon' } }));
    await assert.rejects(createBusFromConfig({ path, env: {} }), /unknown driver type 'carrier-pigeon'; known types: memory/);
    await assert.rejects(loadConfig({ path: join(dir, 'missing.json'), env: {} }), /cannot read Omnibus config/);
  });

  it('checks the gateway section and the driver options, and reports every problem with its path', async () => {
    const path = join(dir, 'gateway.json');
    await writeFile(path, JSON.stringify({
      gateway: {
        auth: { apiKeys: 'k1', anonymous: { publish: 'orders.>' } },
        heartbeatMs: -5,
        limits: { maxFrameBytes: 'big', publishRate: { perSecnd: 10 } },
        paht: '/ws',
      },
    }));
    const error = await loadConfig({ path, env: {} }).then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof ConfigurationError);
    for (const expected of [
      /gateway\.auth\.apiKeys: expected array, received string/,
      /gateway\.auth\.anonymous\.publish: expected array, received string/,
      /gateway\.heartbeatMs: Too small: expected number to be >0/,
      /gateway\.limits\.maxFrameBytes: expected number, received string/,
      /gateway\.limits\.publishRate: unknown option 'perSecnd'/,
      /gateway: unknown option 'paht'/,
    ]) {
      assert.match(error.message, expected);
    }
    await writeFile(path, JSON.stringify({ driver: { type: 'sqlite', paht: 'x.db' } }));
    await assert.rejects(loadConfig({ path, env: {} }), /driver: unknown option 'paht'/);
    await writeFile(path, JSON.stringify({
      drivers: { fast: { type: 'memory', history: { maxMessages: 'many' } }, slow: { url: 'sqlite:bus.db', synchronous: 'sometimes' } },
      routes: [{ topics: ['>'], driver: 'fast' }],
    }));
    const drivers = await loadConfig({ path, env: {} }).then(() => undefined, (caught: Error) => caught);
    assert.match(String(drivers?.message), /drivers\.fast\.history\.maxMessages: expected number, received string/);
    assert.match(String(drivers?.message), /drivers\.slow\.synchronous: expected one of "full"\|"normal"\|"off"/);
    await writeFile(path, JSON.stringify({ gateway: { auth: { apiKeys: [{ key: 'k1', subscribe: ['orders.>'] }] }, allowedOrigins: ['https://app.example.com'], limits: { maxHistoryBytes: 1024 } } }));
    assert.deepEqual((await loadConfig({ path, env: {} })).gateway?.allowedOrigins, ['https://app.example.com']);
  });
});
