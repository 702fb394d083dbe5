// A failure that is one of the Bus's errors reaches a client as that error: the same class and
// the same code as on the Bus, through a real gateway.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type OmnibusClient } from '../../src/client/client.js';
import { GatewayError } from '../../src/client/errors.js';
import { InvalidPositionError, NoRouteError, PayloadTooLargeError } from '../../src/core/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { NodeWebSocket, RawSocket, startGateway, type Running } from '../support/gateway.js';

describe('client errors', () => {
  let running: Running;
  let client: OmnibusClient;
  before(async () => {
    // One route, for game topics only: anything else has no route.
    const bus = createBus({ drivers: { fast: memory({ history: { maxMessages: 100 } }) }, routes: [{ topics: ['game.>'], driver: 'fast' }] });
    running = await startGateway({ bus, limits: { maxMessageBytes: 1_000 } });
    client = createClient({ url: running.url, WebSocket: NodeWebSocket });
  });
  after(async () => {
    await client.close();
    await running.close();
  });

  it('rejects a payload over the gateway limit with PayloadTooLargeError and its sizes, as the Bus does', async () => {
    const data = 'x'.repeat(2_000);
    await assert.rejects(client.publish('game.big', data), (error: PayloadTooLargeError) => {
      assert.ok(error instanceof PayloadTooLargeError, `got ${error}`);
      assert.equal(error.code, 'PAYLOAD_TOO_LARGE');
      assert.equal(error.retriable, false);
      assert.equal(error.bytes, JSON.stringify(data).length);
      assert.equal(error.maxBytes, 1_000);
      assert.equal(error.topic, 'game.big');
      assert.match(error.message, /exceeds the gateway's limit of 1000 bytes/);
      return true;
    });
  });

  it('rejects a topic no route takes with NoRouteError', async () => {
    await assert.rejects(client.publish('orders.placed', 1), (error: NoRouteError) => error instanceof NoRouteError && error.code === 'NO_ROUTE');
  });

  it('rejects a position the driver cannot read with InvalidPositionError', async () => {
    await assert.rejects(
      client.subscribe('game.>', () => {}, { from: { seq: 'not-a-seq' } }),
      (error: InvalidPositionError) => error instanceof InvalidPositionError && error.code === 'INVALID_POSITION',
    );
  });

  it('keeps GatewayError for what only the gateway refuses', async () => {
    await assert.rejects(
      client.publishMany(Array.from({ length: 1_001 }, () => ({ topic: 'game.many', data: 1 }))),
      (error: GatewayError) => error instanceof GatewayError && error.code === 'TOO_LARGE',
    );
  });

  it('sends PAYLOAD_TOO_LARGE with bytes and maxBytes on the wire and over HTTP', async () => {
    const socket = await RawSocket.open(running.url);
    const refused = await socket.request({ type: 'publish', topic: 'game.big', data: 'x'.repeat(2_000) });
    assert.deepEqual(
      { code: refused.code, bytes: refused.bytes, maxBytes: refused.maxBytes, retriable: refused.retriable },
      { code: 'PAYLOAD_TOO_LARGE', bytes: 2_002, maxBytes: 1_000, retriable: false },
    );
    socket.close();
    const response = await fetch(`${running.http}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'game.big', data: 'x'.repeat(2_000) }),
    });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
  });
});
