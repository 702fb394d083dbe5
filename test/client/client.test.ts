// The client SDK against a real gateway: the Bus's shape, retries and dead letters, and what
// happens while the gateway is away (offline buffer, reconnect, resubscribe, resume).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { BufferFullError, GatewayError } from '../../src/client/errors.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { createGateway } from '../../src/gateway/index.js';
import { eventually } from '../../src/testing/wait.js';
import { ConnectionError } from '../../src/core/errors.js';
import { WebSocket } from 'ws';
import type { WebSocketConstructor, WebSocketLike } from '../../src/client/connection.js';
import { NodeWebSocket, quietLogger, startGateway, type Running } from '../support/gateway.js';
import { freePort } from '../support/private-server.js';

/**
 * A WebSocket that records every frame the client sends; `alter` changes the welcome on its
 * way in, to stand for another gateway version.
 */
function recording(sent: Array<Record<string, unknown>>, alter?: (welcome: Record<string, unknown>) => void): WebSocketConstructor {
  return class implements WebSocketLike {
    private readonly ws: WebSocket;
    onopen: WebSocketLike['onopen'] = null;
    onmessage: WebSocketLike['onmessage'] = null;
    onclose: WebSocketLike['onclose'] = null;
    onerror: WebSocketLike['onerror'] = null;
    constructor(url: string) {
      this.ws = new WebSocket(url);
      this.ws.onopen = (event) => this.onopen?.(event);
      this.ws.onclose = (event) => this.onclose?.(event);
      this.ws.onerror = (event) => this.onerror?.(event);
      this.ws.onmessage = ({ data }) => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'welcome') alter?.(frame);
        this.onmessage?.({ data: JSON.stringify(frame) });
      };
    }
    get readyState() {
      return this.ws.readyState;
    }
    send(data: string) {
      const value = JSON.parse(data);
      sent.push(...(Array.isArray(value) ? value : [value]));
      this.ws.send(data);
    }
    close(code?: number, reason?: string) {
      this.ws.close(code, reason);
    }
  };
}

describe('client', () => {
  let running: Running;
  before(async () => {
    running = await startGateway();
  });
  after(() => running.close());

  it('pointed at an unreachable gateway: emits connectionLost with the cause, and ready, subscribe and publish reject after connectTimeoutMs', async () => {
    const port = await freePort();
    const client = createClient({ url: `ws://127.0.0.1:${port}/v1/ws`, WebSocket: NodeWebSocket, connectTimeoutMs: 300 });
    const lost: Array<{ error?: unknown }> = [];
    client.on('connectionLost', (event) => lost.push(event));
    client.on('error', () => {});
    const publishing = client.publish('a.b', 1);
    const subscribing = client.subscribe('a.b', () => {});
    const unreachable = (error: unknown) =>
      error instanceof ConnectionError && new RegExp(`^cannot reach the gateway at ws://127\\.0\\.0\\.1:${port}/v1/ws within 300 ms \\(.*ECONNREFUSED`).test(error.message);
    await assert.rejects(client.ready(), unreachable);
    await assert.rejects(publishing, unreachable);
    await assert.rejects(subscribing, unreachable);
    assert.equal(lost.length, 1, 'one connectionLost for the outage');
    assert.match(String((lost[0].error as Error | undefined)?.message), /ECONNREFUSED/);
    await client.close();
  });

  it('publishes, subscribes and streams with the Bus shape; bytes and headers round-trip', async () => {
    const client = createClient({ url: running.url, WebSocket: NodeWebSocket });
    const got: Array<{ topic: string; data: unknown; key?: string; header?: string }> = [];
    await client.subscribe('shape.*', (m) => void got.push({ topic: m.topic, data: m.data, key: m.key, header: m.headers['x-h'] }));
    const result = await client.publish('shape.a', { n: 1 }, { key: 'k', headers: { 'x-h': 'v' } });
    assert.match(result.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    await client.publishMany([{ topic: 'shape.b', data: new Uint8Array([0, 255, 7]) }, { topic: 'shape.c', data: null }]);
    await eventually(() => got.length === 3, 'three messages');
    assert.deepEqual(got[0], { topic: 'shape.a', data: { n: 1 }, key: 'k', header: 'v' });
    assert.deepEqual([...(got[1].data as Uint8Array)], [0, 255, 7]);
    assert.equal(got[2].data, null);
    const stream = client.stream('streamed.>');
    await new Promise((r) => setTimeout(r, 50));
    for (let n = 0; n < 3; n++) await client.publish('streamed.x', n);
    const seen: unknown[] = [];
    for await (const message of stream) {
      seen.push(message.data);
      await message.ack();
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [0, 1, 2]);
    await assert.rejects(client.publish('bad..topic', 1), /empty token/);
    await client.close();
  });

  it('sends automatic acks without asking for a reply, and a manual ack with an id it resolves on', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const client = createClient({ url: running.url, WebSocket: recording(sent) });
    const handled: unknown[] = [];
    await client.subscribe('acks.auto', (m) => void handled.push(m.data));
    for (let n = 0; n < 3; n++) await client.publish('acks.auto', n);
    await eventually(() => sent.filter((f) => f.type === 'ack').flatMap((f) => f.deliveries as number[]).length === 3, 'three automatic acks');
    assert.deepEqual(handled, [0, 1, 2]);
    assert.ok(sent.filter((f) => f.type === 'ack').every((f) => f.id === undefined), 'no automatic ack asks for a reply');
    let acked = false;
    await client.subscribe('acks.manual', async (m) => {
      await m.ack();
      acked = true;
    }, { ack: 'manual' });
    await client.publish('acks.manual', 'x');
    await eventually(() => acked, 'the manual ack resolved');
    const manual = sent.filter((f) => f.type === 'ack').at(-1)!;
    assert.equal(typeof manual.id, 'string', 'a manual ack waits for its reply');
    await client.close();
  });

  it('sends every ack with an id to a gateway that does not take acks without one', async () => {
    const small = await startGateway({ limits: { maxUnacked: 2 } });
    const sent: Array<Record<string, unknown>> = [];
    // A gateway from before acks without an id says nothing of them in its welcome.
    const client = createClient({ url: small.url, WebSocket: recording(sent, (welcome) => delete welcome.acksWithoutId) });
    const handled: unknown[] = [];
    await client.subscribe('acks.older', (m) => void handled.push(m.data));
    // More than maxUnacked: the later ones arrive only as the acks land.
    for (let n = 0; n < 6; n++) await client.publish('acks.older', n);
    await eventually(() => handled.length === 6, 'all six, past maxUnacked');
    const acks = sent.filter((f) => f.type === 'ack');
    assert.ok(acks.length > 0 && acks.every((f) => typeof f.id === 'string'));
    await client.close();
    await small.close();
  });

  it('refuses a gateway that speaks another protocol version, naming both, without retrying', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const client = createClient({ url: running.url, WebSocket: recording(sent, (welcome) => void (welcome.version = 2)) });
    const errors: unknown[] = [];
    client.on('error', ({ error }) => void errors.push(error));
    await assert.rejects(client.ready(), (error: GatewayError) => {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.code, 'PROTOCOL_VERSION');
      assert.equal(error.retriable, false);
      assert.match(error.message, /the gateway speaks protocol version 2, and this client version 1/);
      return true;
    });
    // As after any failure of the client: it is closed.
    await assert.rejects(client.publish('versions.x', 1), { code: 'CLOSED' });
    assert.equal(errors.length, 1);
    assert.deepEqual(sent, [], 'nothing sent to a gateway it cannot understand');
    await client.close();
  });

  it('sends a burst of publishes in envelopes that each fit within the gateway\'s maxFrameBytes, delivered in order', async () => {
    const small = await startGateway({ limits: { maxFrameBytes: 16 * 1024 } });
    const client = createClient({ url: small.url, WebSocket: NodeWebSocket });
    const got: number[] = [];
    await client.subscribe('burst.x', (m) => void got.push((m.data as { n: number }).n));
    const filler = 'x'.repeat(1_000);
    await Promise.all(Array.from({ length: 200 }, (_, n) => client.publish('burst.x', { n, filler })));
    await eventually(() => got.length === 200, 'all 200 messages');
    assert.deepEqual(got, [...Array(200).keys()]);
    await client.close();
    await small.close();
  });

  it('retries a throwing handler with attempt counting up, then dead-letters at the gateway', async () => {
    const client = createClient({ url: running.url, WebSocket: NodeWebSocket });
    const attempts: number[] = [];
    const dead: unknown[] = [];
    await client.subscribe('retry.dlq', (m) => void dead.push(m.headers['x-error']));
    await client.subscribe('retry.t', (m) => {
      attempts.push(m.attempt);
      throw new Error('card declined');
    }, { maxAttempts: 3, deadLetter: 'retry.dlq', backoff: { initialMs: 10, maxMs: 20 } });
    await client.publish('retry.t', 1);
    await eventually(() => dead.length === 1, 'the dead letter');
    assert.deepEqual(attempts, [1, 2, 3]);
    await client.close();
  });

  it('buffers publishes while the gateway is away, refuses beyond the bound, and delivers after reconnecting', async () => {
    const bus = createBus({ driver: memory({ history: { maxMessages: 10_000 } }) });
    const first = createGateway({ bus, logger: quietLogger });
    const port = await first.listen(0, '127.0.0.1');
    const url = `ws://127.0.0.1:${port}/v1/ws`;
    const publisher = createClient({ url, WebSocket: NodeWebSocket, maxBufferedPublishes: 5, reconnect: { initialMs: 20, maxMs: 100 } });
    const subscriber = createClient({ url, WebSocket: NodeWebSocket, reconnect: { initialMs: 20, maxMs: 100 } });
    const events: string[] = [];
    publisher.on('connectionLost', () => events.push('lost'));
    publisher.on('reconnected', () => events.push('reconnected'));
    const got: number[] = [];
    await subscriber.subscribe('offline.t', (m) => void got.push(m.data as number));
    await publisher.publish('offline.t', 0);
    await eventually(() => got.length === 1, 'the first message');

    await first.close(200);
    await eventually(() => !publisher.connected && !subscriber.connected, 'both clients to notice');
    const buffered = [1, 2, 3, 4, 5].map((n) => publisher.publish('offline.t', n));
    await assert.rejects(publisher.publish('offline.t', 6), (error: BufferFullError) => {
      assert.ok(error instanceof BufferFullError);
      assert.match(error.message, /offline publish buffer is full \(5 messages\)/);
      return true;
    });
    // Published by someone else while our subscriber is away: resume must bring it.
    await bus.publish('offline.t', 100);

    const second = createGateway({ bus, logger: quietLogger });
    await second.listen(port, '127.0.0.1');
    await Promise.all(buffered);
    await eventually(() => got.length === 7, `seven messages after the reconnect (got ${got})`);
    assert.deepEqual(got, [0, 100, 1, 2, 3, 4, 5]);
    assert.deepEqual(events, ['lost', 'reconnected']);
    await Promise.all([publisher.close(), subscriber.close()]);
    await second.close();
    await bus.close();
  });

  it('raises gap with the earliest seq held when retention removed its resume position while away', async () => {
    const bus = createBus({ driver: memory({ history: { maxMessages: 2 } }) });
    const first = createGateway({ bus, logger: quietLogger });
    const port = await first.listen(0, '127.0.0.1');
    const subscriber = createClient({ url: `ws://127.0.0.1:${port}/v1/ws`, WebSocket: NodeWebSocket, reconnect: { initialMs: 20, maxMs: 100 } });
    const gaps: Array<{ pattern: string; earliest?: string }> = [];
    subscriber.on('gap', (gap) => void gaps.push({ pattern: gap.pattern, earliest: gap.earliest }));
    const got: number[] = [];
    const subscription = await subscriber.subscribe('trim.t', (m) => void got.push(m.data as number));
    await bus.publish('trim.t', 0);
    await eventually(() => got.length === 1, 'the first message');

    await first.close(200);
    await eventually(() => !subscriber.connected, 'the client to notice');
    const seqs: string[] = [];
    for (let n = 1; n <= 4; n++) seqs.push((await bus.publish('trim.t', n)).seq!);

    const second = createGateway({ bus, logger: quietLogger });
    await second.listen(port, '127.0.0.1');
    await eventually(() => got.length === 3, `what is still held after the reconnect (got ${got})`);
    assert.deepEqual(got, [0, 3, 4]);
    assert.deepEqual(gaps, [{ pattern: 'trim.t', earliest: seqs[2] }]);
    assert.equal(subscription.recovered, false);
    await subscriber.close();
    await second.close();
    await bus.close();
  });
});
