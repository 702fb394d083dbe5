// `client.request` through a real gateway: answered by the gateway's own bus, by another
// service whose bus runs over the gateway (`gatewayDriver`), and under a tenant's grants.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type OmnibusClient } from '../../src/client/client.js';
import { gatewayDriver } from '../../src/client/driver.js';
import { Bus } from '../../src/core/bus.js';
import { RemoteError, TimeoutError } from '../../src/core/errors.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';

describe('client.request', () => {
  let running: Running;
  const clients: OmnibusClient[] = [];
  const buses: Bus[] = [];
  const client = (token?: string) => {
    const made = createClient({ url: running.url, WebSocket: NodeWebSocket, token });
    clients.push(made);
    return made;
  };
  /** Another service: a Bus whose driver is the gateway. */
  const service = async (token?: string) => {
    const driver = gatewayDriver({ url: running.url, WebSocket: NodeWebSocket, token });
    await driver.ready();
    const bus = new Bus({ drivers: { gateway: driver } });
    buses.push(bus);
    return bus;
  };
  before(async () => {
    running = await startGateway({
      auth: {
        apiKeys: [
          { key: 'backend', name: 'backend' },
          { key: 'requester', publish: ['prices.>'], subscribe: ['_inbox.>'] },
          { key: 'acme-requester', tenant: 'acme', publish: ['prices.>'], subscribe: ['_inbox.>'] },
          { key: 'acme-responder', tenant: 'acme', publish: ['_inbox.>'], subscribe: ['prices.>'] },
        ],
      },
    });
  });
  after(async () => {
    await Promise.all(clients.map((made) => made.close()));
    await Promise.all(buses.map((bus) => bus.close()));
    await running.close();
  });

  it('is answered by the gateway bus, with the correlation id carried both ways, through one inbox subscription', async () => {
    await running.bus.respond<{ sku: string }>('prices.quote', async ({ data, headers }) => ({ sku: data.sku, price: 12, asked: headers['x-asked-by'] }));
    const requester = client('requester');
    const replies = await Promise.all(
      ['a', 'b', 'c'].map((sku) => requester.request<{ sku: string; price: number }>('prices.quote', { sku }, { headers: { 'correlation-id': `c-${sku}`, 'x-asked-by': 'web' } })),
    );
    assert.deepEqual(replies.map((reply) => reply.data), ['a', 'b', 'c'].map((sku) => ({ sku, price: 12, asked: 'web' })));
    assert.deepEqual(replies.map((reply) => reply.headers['correlation-id']), ['c-a', 'c-b', 'c-c']);
    const inboxes = Object.keys(running.bus.stats().byPattern).filter((pattern) => pattern.startsWith('_inbox.'));
    assert.equal(inboxes.length, 1, `inbox subscriptions: ${inboxes.join(', ')}`);
  });

  it('is answered once by a group of two services over the gateway, and a failure comes back as RemoteError', async () => {
    const answered = [0, 0];
    for (const member of [0, 1]) {
      const bus = await service('backend');
      await bus.respond('prices.stock', ({ data }) => {
        answered[member]++;
        if (data === 'none') throw Object.assign(new Error('sku none is unknown'), { code: 'UNKNOWN_SKU' });
        return data;
      }, { group: 'stock' });
    }
    const requester = client('requester');
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => requester.request('prices.stock', i, { timeoutMs: 10_000 })));
    assert.deepEqual(replies.map((reply) => reply.data), Array.from({ length: 50 }, (_, i) => i));
    assert.equal(answered[0] + answered[1], 50);
    await assert.rejects(requester.request('prices.stock', 'none'), (error: unknown) => error instanceof RemoteError && error.remoteCode === 'UNKNOWN_SKU' && error.message === 'sku none is unknown');
  });

  it('fails with TimeoutError when nobody responds', async () => {
    const started = Date.now();
    await assert.rejects(client('requester').request('prices.nobody', 1, { timeoutMs: 300 }), TimeoutError);
    assert.ok(Date.now() - started < 1_000);
  });

  it('works inside a tenant when the responder is in the same tenant', async () => {
    const responder = await service('acme-responder');
    await responder.respond('prices.tenant', ({ topic }) => topic);
    const reply = await client('acme-requester').request('prices.tenant', null);
    // Both sides name topics relative to the tenant; the gateway's bus holds them as acme.*.
    assert.equal(reply.data, 'prices.tenant');
  });

  it("reaches a tenant's client when the gateway's own bus answers: the inbox is named by the bus inside the tenant", async () => {
    await running.bus.respond('acme.prices.server', ({ headers }) => headers['reply-to']);
    const reply = await client('acme-requester').request('prices.server', null, { timeoutMs: 2_000 });
    assert.match(String(reply.data), /^acme\._inbox\./, 'the bus sees the inbox under the tenant');
  });

  it('refuses a reply-to the client may not read', async () => {
    const raw = client('acme-requester');
    await assert.rejects(raw.publish('prices.x', 1, { headers: { 'reply-to': 'other.inbox' } }), /not allowed to subscribe to 'other\.inbox'/);
  });
});
