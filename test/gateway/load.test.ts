// 1,000 concurrent WebSocket clients on loopback, each subscribed, all receiving a burst of
// messages: bounded in count and in time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type OmnibusClient } from '../../src/client/client.js';
import { eventually } from '../../src/testing/wait.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';

const CLIENTS = 1_000;
const MESSAGES = 20;

describe('gateway load', () => {
  let running: Running;
  before(async () => {
    // Every client comes from one address here.
    running = await startGateway({ limits: { maxConnectionsPerClient: CLIENTS } });
  });
  after(() => running.close());

  it(`serves ${CLIENTS} concurrent WebSocket clients, each receiving every message, within 30 s`, { timeout: 60_000 }, async () => {
    const started = Date.now();
    const clients: OmnibusClient[] = [];
    const counts = new Array<number>(CLIENTS).fill(0);
    for (let batch = 0; batch < CLIENTS; batch += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const index = batch + i;
          const client = createClient({ url: running.url, WebSocket: NodeWebSocket });
          clients[index] = client;
          await client.subscribe('load.>', () => void counts[index]++);
        }),
      );
    }
    assert.equal(running.gateway.connections, CLIENTS);
    const connectedMs = Date.now() - started;
    const publisher = clients[0];
    for (let n = 0; n < MESSAGES; n++) await publisher.publish(`load.t${n % 4}`, { n });
    await eventually(() => counts.every((c) => c === MESSAGES), `${CLIENTS * MESSAGES} deliveries`, 30_000);
    const totalMs = Date.now() - started;
    console.log(`# ${CLIENTS} clients connected and subscribed in ${connectedMs} ms; ${CLIENTS * MESSAGES} deliveries done at ${totalMs} ms`);
    assert.ok(totalMs < 30_000);
    await Promise.all(clients.map((client) => client.close()));
    await eventually(() => running.gateway.connections === 0, 'every connection closed', 10_000);
  });
});
