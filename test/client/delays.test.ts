// Delayed delivery from omnibus/client: `delayMs` and `deliverAt` (a Date) reach the gateway's
// bus; a bad value and a driver without delays are typed errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type OmnibusClient } from '../../src/client/client.js';
import { GatewayError } from '../../src/client/errors.js';
import { ConfigurationError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';
import { onGatewayWithoutDelays } from '../gateway/no-delays.js';

const DELAY_MS = 300;

/** Subscribes to `topic`; `received` resolves with the first message and when it arrived. */
async function firstMessage(client: OmnibusClient, topic: string): Promise<{ received: Promise<{ message: Message; at: number }> }> {
  let resolve!: (value: { message: Message; at: number }) => void;
  const received = new Promise<{ message: Message; at: number }>((r) => (resolve = r));
  await client.subscribe(topic, (message) => resolve({ message, at: Date.now() }));
  return { received };
}

describe('client: delayed delivery (memory driver)', () => {
  let running: Running;
  let client: OmnibusClient;
  before(async () => {
    running = await startGateway();
    client = createClient({ url: running.url, WebSocket: NodeWebSocket });
  });
  after(async () => {
    await client.close();
    await running.close();
  });

  it('publish with delayMs is delivered no earlier than due', async () => {
    const { received } = await firstMessage(client, 'later.delay');
    const sent = Date.now();
    await client.publish('later.delay', { n: 1 }, { delayMs: DELAY_MS });
    const { message, at } = await received;
    assert.deepEqual(message.data, { n: 1 });
    assert.ok(at >= sent + DELAY_MS, 'delivered before it was due');
  });

  it('publishMany with deliverAt, a Date, is delivered no earlier than it', async () => {
    const { received } = await firstMessage(client, 'later.at');
    const due = new Date(Date.now() + DELAY_MS);
    await client.publishMany([{ topic: 'later.at', data: 'x', deliverAt: due }]);
    const { at } = await received;
    assert.ok(at >= due.getTime(), 'delivered before it was due');
  });

  it('a bad delay is a typed error naming the field', async () => {
    await assert.rejects(client.publish('later.bad', 1, { deliverAt: new Date('nope') }), (error) => error instanceof ConfigurationError && /deliverAt/.test(error.message));
    await assert.rejects(client.publish('later.bad', 1, { delayMs: -5 }), (error) => error instanceof GatewayError && error.code === 'BAD_FRAME' && /"delayMs"/.test(error.message));
  });
});

onGatewayWithoutDelays('client: delayed delivery on a driver without it (NATS core)', 'rejects with the bus\'s ConfigurationError', async (running) => {
  const client = createClient({ url: running.url, WebSocket: NodeWebSocket });
  try {
    await assert.rejects(client.publish('later.nats', 1, { delayMs: 100 }), (error) => error instanceof ConfigurationError && /cannot delay delivery/.test(error.message));
  } finally {
    await client.close();
  }
});
