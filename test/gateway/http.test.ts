// The HTTP side over real sockets: publish in JSON and CloudEvents forms, history reads,
// Server-Sent Events with Last-Event-ID resume, and health.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { Bus } from '../../src/core/bus.js';
import type { Deliver, Driver, SubscribeSpec } from '../../src/core/driver.js';
import { eventually } from '../../src/testing/wait.js';
import { startGateway, type Running } from '../support/gateway.js';

/** Reads SSE events from a response until `count` message events arrived. */
async function readEvents(response: Response, count: number): Promise<Array<{ id?: string; event: string; data: any }>> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: Array<{ id?: string; event: string; data: any }> = [];
  let buffer = '';
  while (events.filter((e) => e.event === 'message').length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith(':')) continue;
      const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
      events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
    }
  }
  await reader.cancel();
  return events;
}

describe('gateway HTTP', () => {
  let running: Running;
  before(async () => {
    running = await startGateway();
  });
  after(() => running.close());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: (typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body)) as BodyInit });

  it('GET /healthz reports ok and the drivers', async () => {
    const response = await fetch(`${running.http}/healthz`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; drivers: Array<{ driver: string; connected: boolean }> };
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.drivers.map(({ driver, connected }) => ({ driver, connected })), [{ driver: 'memory', connected: true }]);
  });

  it('POST /v1/publish accepts JSON, a batch, CloudEvents structured and binary mode; history returns them in order', async () => {
    const single = await post({ topic: 'http.orders', data: { n: 1 }, messageId: 'h-1', key: 'k', headers: { 'x-a': 'b' } });
    assert.equal(single.status, 200);
    assert.equal(((await single.json()) as { messageId: string }).messageId, 'h-1');
    const batch = await post({ messages: [{ topic: 'http.orders', data: { n: 2 } }, { topic: 'http.orders', data: { n: 3 } }] });
    assert.equal(((await batch.json()) as { results: unknown[] }).results.length, 2);
    const structured = await post(
      { specversion: '1.0', id: 'ce-1', source: 'test', type: 'http.orders', datacontenttype: 'application/json', data: { n: 4 }, partitionkey: 'k' },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(structured.status, 200);
    const binary = await post(new Uint8Array([1, 2, 3]), {
      'content-type': 'application/octet-stream',
      'ce-specversion': '1.0',
      'ce-id': 'ce-2',
      'ce-type': 'http.orders',
      'ce-source': 'test',
    });
    assert.equal(binary.status, 200);

    const history = await fetch(`${running.http}/v1/messages?topic=http.orders&from=earliest&limit=10`);
    const body = (await history.json()) as { messages: Array<Record<string, any>>; next: string };
    assert.equal(body.messages.length, 5);
    assert.deepEqual(body.messages.slice(0, 4).map((m) => m.data.n), [1, 2, 3, 4]);
    assert.equal(body.messages[0].headers['x-a'], 'b');
    assert.equal(body.messages[3].messageId, 'ce-1');
    assert.equal(body.messages[3].key, 'k');
    assert.deepEqual([...Buffer.from(body.messages[4].data_base64, 'base64')], [1, 2, 3]);
    const page = await fetch(`${running.http}/v1/messages?topic=http.orders&after=${body.messages[1].seq}&limit=2`);
    assert.deepEqual(((await page.json()) as { messages: Array<{ data: { n: number } }> }).messages.map((m) => m.data.n), [3, 4]);
  });

  it('POST /v1/publish refuses bad input with 400 and a clear message', async () => {
    const notJson = await post('{oops');
    assert.equal(notJson.status, 400);
    const badTopic = await post({ topic: 'a..b', data: 1 });
    assert.equal(badTopic.status, 400);
    assert.match(((await badTopic.json()) as { error: { message: string } }).error.message, /empty token/);
    const notFound = await fetch(`${running.http}/v1/nothing`);
    assert.equal(notFound.status, 404);
  });

  it('GET /v1/stream sends Server-Sent Events and resumes after Last-Event-ID without repeats', async () => {
    const controller = new AbortController();
    const response = await fetch(`${running.http}/v1/stream?pattern=sse.>`, { signal: controller.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const reading = readEvents(response, 3);
    await new Promise((r) => setTimeout(r, 50));
    for (let n = 0; n < 5; n++) await post({ topic: 'sse.t', data: n });
    const events = (await reading).filter((e) => e.event === 'message');
    assert.deepEqual(events.map((e) => e.data.data), [0, 1, 2]);
    controller.abort();
    const resumed = await fetch(`${running.http}/v1/stream?pattern=sse.>`, { headers: { 'last-event-id': events[2].id! } });
    const rest = (await readEvents(resumed, 2)).filter((e) => e.event === 'message');
    assert.deepEqual(rest.map((e) => e.data.data), [3, 4]);
  });

  it('ends an SSE stream that stops reading with a SLOW_CONSUMER event once its send buffer is full', { timeout: 30_000 }, async () => {
    const small = await startGateway({ limits: { maxSendBufferBytes: 256 * 1024 } });
    const response = await fetch(`${small.http}/v1/stream?pattern=sse.slow`);
    await new Promise((r) => setTimeout(r, 50));
    // Nothing reads the body while 38 MiB are published (more than loopback socket buffers
    // hold): the server must cut the stream off rather than queue them.
    const payload = 'z'.repeat(64 * 1024);
    for (let n = 0; n < 600; n++) {
      const published = await fetch(`${small.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'sse.slow', data: payload }) });
      assert.equal(published.status, 200);
    }
    const events = await readEvents(response, Infinity);
    assert.deepEqual(events.at(-1), { id: undefined, event: 'error', data: { code: 'SLOW_CONSUMER', message: 'send buffer full' } });
    assert.ok(events.filter((e) => e.event === 'message').length < 600, 'cut off before the backlog was queued');
    await small.close();
  });

  it('POST /v1/publish keeps to publishRate per client, counting each message of a batch, with 429', async () => {
    const limited = await startGateway({
      limits: { publishRate: { perSecond: 1, burst: 4 } },
      auth: { apiKeys: [{ key: 'first-key', name: 'first' }, { key: 'second-key', name: 'second' }] },
    });
    const send = (key: string, body: unknown) =>
      fetch(`${limited.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
    assert.equal((await send('first-key', { messages: [{ topic: 'rate.t', data: 1 }, { topic: 'rate.t', data: 2 }, { topic: 'rate.t', data: 3 }] })).status, 200);
    assert.equal((await send('first-key', { topic: 'rate.t', data: 4 })).status, 200);
    const refused = await send('first-key', { topic: 'rate.t', data: 5 });
    assert.equal(refused.status, 429);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'RATE_LIMITED');
    assert.match(error.message, /above 1 messages per second for this client/);
    assert.equal((await send('second-key', { topic: 'rate.t', data: 6 })).status, 200, 'another client has a bucket of its own');
    await limited.close();
  });

  it('GET /v1/stream says recovered: false with the earliest seq when retention removed Last-Event-ID', async () => {
    const short = await startGateway({ bus: createBus({ driver: memory({ history: { maxMessages: 2 } }) }) });
    const seqs: string[] = [];
    for (let n = 0; n < 5; n++) {
      const response = await fetch(`${short.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'sse.trim', data: n }) });
      seqs.push(((await response.json()) as { seq: string }).seq);
    }
    const resumed = await fetch(`${short.http}/v1/stream?pattern=sse.trim`, { headers: { 'last-event-id': seqs[0] } });
    const events = await readEvents(resumed, 2);
    assert.deepEqual(events[0], { id: undefined, event: 'ready', data: { recovered: false, earliest: seqs[3], client: events[0].data.client } });
    assert.equal(typeof events[0].data.client, 'string', "the ready event names the stream's presence id");
    assert.deepEqual(events.filter((e) => e.event === 'message').map((e) => e.data.data), [3, 4]);
    await short.close();
  });

  it('GET /v1/stream whose client leaves while it subscribes closes the subscription, losing nothing of its group', async () => {
    const inner = memory();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let open = 0;
    // A subscribe that takes its time, as a replay or a distant broker would.
    const slow: Driver = Object.assign(Object.create(inner), {
      subscribe: async (spec: SubscribeSpec, deliver: Deliver) => {
        await gate;
        const subscription = await inner.subscribe(spec, deliver);
        open++;
        return { close: async () => (open--, subscription.close()) };
      },
    });
    const bus = new Bus({ drivers: { memory: slow } });
    const gateway = await startGateway({ bus });
    try {
      const controller = new AbortController();
      const leaving = await fetch(`${gateway.http}/v1/stream?pattern=left.t&group=g`, { signal: controller.signal });
      assert.equal(leaving.status, 200);
      const streams = async () => Number(/^omnibus_gateway_streams (\d+)/m.exec(await (await fetch(`${gateway.http}/metrics`)).text())![1]);
      assert.equal(await streams(), 1);
      controller.abort();
      // The gateway has seen the client go while the subscribe is still held up.
      for (let n = await streams(); n !== 0; n = await streams()) await new Promise((resolve) => setTimeout(resolve, 10));
      release();
      await eventually(() => open === 0 && gateway.gateway.bus.stats().delivered === 0, 'the abandoned subscription closed');
      const got: number[] = [];
      await bus.subscribe('left.t', (message) => void got.push(message.data as number), { group: 'g' });
      for (let n = 0; n < 10; n++) await bus.publish('left.t', n);
      await eventually(() => got.length === 10, 'every message at the member that stayed');
      assert.equal(open, 1, 'only the member that stayed is subscribed');
    } finally {
      await gateway.close();
    }
  });

  it('GET /v1/stream that cannot subscribe says why in an error event and ends the stream', async () => {
    const short = await startGateway({ bus: createBus({ driver: memory({ history: { maxMessages: 10 } }) }), heartbeatMs: 20 });
    try {
      const response = await fetch(`${short.http}/v1/stream?pattern=bad.t&from=not-a-seq`);
      const text = await response.text();
      assert.match(text, /event: error\ndata: \{"code":"INVALID_POSITION"/);
      assert.doesNotMatch(text, /event: ready/);
    } finally {
      await short.close();
    }
  });
});
