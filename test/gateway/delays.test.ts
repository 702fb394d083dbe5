// Delayed delivery through the gateway: `delayMs` / `deliverAt` on a publish frame and on
// POST /v1/publish reach the bus, bad values are refused naming the field, and a bus whose
// driver cannot delay answers with its ConfigurationError as UNSUPPORTED.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_DELAY_MS } from '../../src/protocol/limits.js';
import { RawSocket, startGateway, type Running } from '../support/gateway.js';
import { onGatewayWithoutDelays } from './no-delays.js';

const DELAY_MS = 300;

async function subscribed(url: string, pattern: string): Promise<RawSocket> {
  const socket = await RawSocket.open(url);
  const reply = await socket.request({ type: 'subscribe', subscription: 's', pattern, ack: 'auto' });
  assert.equal(reply.type, 'reply', JSON.stringify(reply));
  return socket;
}

function postPublish(running: Running, body: unknown): Promise<Response> {
  return fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('gateway: delayed delivery (memory driver)', () => {
  let running: Running;
  before(async () => {
    running = await startGateway();
  });
  after(() => running.close());

  it('a publish frame with delayMs is delivered no earlier than due, stamped with its due time', async () => {
    const socket = await subscribed(running.url, 'later.ws');
    const sent = Date.now();
    const reply = await socket.request({ type: 'publish', topic: 'later.ws', data: 1, delayMs: DELAY_MS });
    assert.equal(reply.type, 'reply', JSON.stringify(reply));
    const message = await socket.waitFor((f) => f.type === 'message');
    assert.ok(Date.now() >= sent + DELAY_MS, 'delivered before it was due');
    assert.ok(message.time >= sent + DELAY_MS, `time ${message.time} is the due time`);
    socket.close();
  });

  it('deliverAt as epoch ms and as an ISO string, in a batch', async () => {
    const socket = await subscribed(running.url, 'later.batch');
    const due = Date.now() + DELAY_MS;
    const reply = await socket.request({
      type: 'publish',
      messages: [
        { topic: 'later.batch', data: 'ms', deliverAt: due },
        { topic: 'later.batch', data: 'iso', deliverAt: new Date(due).toISOString() },
      ],
    });
    assert.equal(reply.type, 'reply', JSON.stringify(reply));
    await socket.waitFor(() => socket.frames.filter((f) => f.type === 'message').length === 2);
    assert.ok(Date.now() >= due, 'delivered before it was due');
    assert.deepEqual(socket.frames.filter((f) => f.type === 'message').map((f) => f.data).sort(), ['iso', 'ms']);
    socket.close();
  });

  it('POST /v1/publish with delayMs is delivered no earlier than due', async () => {
    const socket = await subscribed(running.url, 'later.http');
    const sent = Date.now();
    const response = await postPublish(running, { topic: 'later.http', data: { n: 1 }, delayMs: DELAY_MS });
    assert.equal(response.status, 200, await response.clone().text());
    await socket.waitFor((f) => f.type === 'message');
    assert.ok(Date.now() >= sent + DELAY_MS, 'delivered before it was due');
    socket.close();
  });

  for (const [fields, named] of [
    [{ delayMs: -1 }, '"delayMs"'],
    [{ delayMs: 'soon' }, '"delayMs"'],
    [{ delayMs: MAX_DELAY_MS + 1 }, '"delayMs"'],
    [{ deliverAt: 'tomorrow' }, '"deliverAt"'],
    [{ deliverAt: '5' }, '"deliverAt"'],
    [{ deliverAt: Date.now() + MAX_DELAY_MS + 60_000 }, 'more than a year ahead'],
    [{ delayMs: 10, deliverAt: Date.now() }, 'not both'],
  ] as const) {
    it(`refuses ${JSON.stringify(fields)} over WebSocket and HTTP, naming it`, async () => {
      const socket = await RawSocket.open(running.url);
      const error = await socket.request({ type: 'publish', topic: 'later.bad', data: 1, ...fields });
      assert.equal(error.type, 'error');
      assert.equal(error.code, 'BAD_FRAME');
      assert.match(error.message, new RegExp(named));
      socket.close();
      const response = await postPublish(running, { topic: 'later.bad', data: 1, ...fields });
      assert.equal(response.status, 400);
      const { error: body } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.code, 'BAD_FRAME');
      assert.match(body.message, new RegExp(named));
    });
  }
});

onGatewayWithoutDelays('gateway: delayed delivery on a driver without it (NATS core)', 'refuses a delay with UNSUPPORTED and the bus\'s reason, over WebSocket and HTTP', async (running) => {
  const socket = await RawSocket.open(running.url);
  const error = await socket.request({ type: 'publish', topic: 'later.nats', data: 1, delayMs: 100 });
  assert.equal(error.code, 'UNSUPPORTED', JSON.stringify(error));
  assert.match(error.message, /cannot delay delivery.*delayMs/);
  assert.equal(error.topic, 'later.nats');
  socket.close();
  const response = await postPublish(running, { topic: 'later.nats', data: 1, deliverAt: new Date(Date.now() + 1_000).toISOString() });
  assert.equal(response.status, 501);
  const { error: body } = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.code, 'UNSUPPORTED');
  assert.match(body.message, /cannot delay delivery.*deliverAt/);
});
