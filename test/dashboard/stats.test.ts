// GET /v1/stats, behind the dashboard: the bus's subscriptions with their counters and each
// group's lag, and recent failures, each cut to what the token may subscribe to and named
// as the token names topics.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { startGateway, type Running } from '../support/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-stats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function stats(gateway: Running, token: string): Promise<Record<string, any>> {
  const response = await fetch(`${gateway.http}/v1/stats`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  return response.json();
}

describe('GET /v1/stats', () => {
  it("shows a tenant its own groups with their lag and its own failures, and an operator everyone's", async () => {
    const bus = createBus({ driver: sqlite({ path: join(dir, 'stats.db') }) });
    const gateway = await startGateway({
      bus,
      auth: {
        apiKeys: [
          { key: 'operator', name: 'ops' },
          { key: 'tenant-a', name: 'a', tenant: 'a' },
        ],
      },
    });
    try {
      // A group that subscribed and went away: what arrives after is its lag.
      await (await bus.subscribe('a.orders.*', () => {}, { group: 'billing' })).close();
      await bus.subscribe('b.secret.*', () => {
        throw new Error('no');
      }, { group: 'spy', maxAttempts: 1, deadLetter: 'b.dead' });
      await bus.publishMany([1, 2, 3].map((n) => ({ topic: 'a.orders.placed', data: { n } })));
      const failed = new Promise((resolve) => bus.on('deliveryFailed', resolve));
      await bus.publish('b.secret.plans', { n: 4 });
      await failed;

      const own = await stats(gateway, 'tenant-a');
      assert.deepEqual(own.subscriptions, [{ pattern: 'orders.*', group: 'billing', delivered: 0, acked: 0, retried: 0, deadLettered: 0, dropped: 0, lag: 3 }]);
      assert.deepEqual(own.failures, []);
      assert.equal(own.gateway.path, '/v1/ws');

      const all = await stats(gateway, 'operator');
      assert.deepEqual(all.subscriptions.map((s: { pattern: string; group?: string }) => `${s.pattern}#${s.group}`).sort(), ['a.orders.*#billing', 'b.secret.*#spy']);
      assert.equal(all.failures.length, 1);
      assert.equal(all.failures[0].kind, 'deliveryFailed');
      assert.equal(all.failures[0].topic, 'b.secret.plans');
      assert.equal(all.failures[0].deadLetter, 'b.dead');
      assert.match(all.failures[0].message, /no/);
    } finally {
      await gateway.close();
    }
  });

  it('needs a token when the gateway does', async () => {
    const gateway = await startGateway({ auth: { apiKeys: [{ key: 'k' }] } });
    try {
      assert.equal((await fetch(`${gateway.http}/v1/stats`)).status, 401);
    } finally {
      await gateway.close();
    }
  });
});
