// Health that tells the truth, against real brokers: a driver that cannot connect, or whose
// broker went away, shows as down in bus.health() and makes /healthz answer 503.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bus } from '../../src/core/bus.js';
import { redis } from '../../src/drivers/redis/index.js';
import type { BusHealth } from '../../src/core/health.js';
import { sleep } from '../../src/testing/wait.js';
import { quietLogger, startGateway } from '../support/gateway.js';
import { freePort } from '../support/private-server.js';
import { redisSkip, startPrivateRedis } from '../support/redis.js';

const skip = await redisSkip();

/** Asks for health until it is what the test waits for. */
async function healthWhen(bus: Bus, wanted: (health: BusHealth) => boolean, what: string, timeoutMs: number): Promise<BusHealth> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await bus.health();
    if (wanted(health)) return health;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(health)}`);
    await sleep(50);
  }
}

describe('health', { skip }, () => {
  it('reports a driver that cannot reach its broker as down, with the error, and /healthz answers 503', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const bus = new Bus({ drivers: { redis: redis({ url }) }, logger: quietLogger });
    const running = await startGateway({ bus });
    try {
      const health = await bus.health();
      assert.equal(health.ok, false);
      assert.equal(health.drivers[0].driver, 'redis');
      assert.equal(health.drivers[0].connected, false);
      assert.match(health.drivers[0].error ?? '', /ECONNREFUSED|cannot connect|no connection/);
      const response = await fetch(`${running.http}/healthz`);
      assert.equal(response.status, 503);
      const body = (await response.json()) as { status: string; drivers: Array<{ connected: boolean }> };
      assert.equal(body.status, 'driver-down');
      assert.equal(body.drivers[0].connected, false);
    } finally {
      await running.close();
    }
  });

  it('follows a broker that goes away and comes back, saying since when', { timeout: 60_000 }, async () => {
    const server = await startPrivateRedis();
    const bus = new Bus({ drivers: { redis: redis({ url: server.url }) }, logger: quietLogger });
    bus.on('error', () => {});
    try {
      const up = await bus.health();
      assert.equal(up.ok, true, JSON.stringify(up));
      await server.stop();
      const down = await healthWhen(bus, (health) => !health.ok, 'the driver reported down', 20_000);
      assert.ok(Date.parse(down.drivers[0].since) >= Date.parse(up.drivers[0].since));
      await server.start();
      const back = await healthWhen(bus, (health) => health.ok, 'the driver back up', 30_000);
      assert.equal(back.drivers[0].error, undefined);
    } finally {
      await bus.close();
      await server.dispose();
    }
  });
});
