// The WebSocket protocol frame by frame, over a real socket: correlated replies, errors for
// bad input, limits, resume and flow control.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { RawSocket, startGateway, type Running } from '../support/gateway.js';

describe('gateway protocol', () => {
  let running: Running;
  before(async () => {
    running = await startGateway({ limits: { maxFrameBytes: 64 * 1024, maxSubscriptions: 3, publishRate: { perSecond: 50, burst: 50 } } });
  });
  after(() => running.close());

  it('greets with a welcome frame naming version, limits and capabilities', async () => {
    const socket = await RawSocket.open(running.url);
    const welcome = socket.frames[0];
    assert.equal(welcome.type, 'welcome');
    assert.equal(welcome.version, 1);
    assert.equal(welcome.capabilities.replay, true);
    assert.equal(welcome.limits.maxSubscriptions, 3);
    assert.equal(welcome.authenticated, true);
    assert.equal(welcome.acksWithoutId, true);
    socket.close();
  });

  it('answers every request with a reply carrying its id, and delivers to a subscriber', async () => {
    const socket = await RawSocket.open(running.url);
    const subscribed = await socket.request({ type: 'subscribe', subscription: 'a', pattern: 'proto.*' });
    assert.equal(subscribed.type, 'reply');
    assert.equal(subscribed.subscription, 'a');
    assert.equal(subscribed.recovered, true);
    const published = await socket.request({ type: 'publish', topic: 'proto.one', data: { n: 1 }, messageId: 'm-1', key: 'k', headers: { 'x-h': 'v' }, ttlMs: 60_000 });
    assert.equal(published.type, 'reply');
    assert.equal(published.messageId, 'm-1');
    assert.ok(published.seq);
    const message = await socket.waitFor((f) => f.type === 'message');
    assert.equal(message.subscription, 'a');
    assert.deepEqual(message.data, { n: 1 });
    assert.equal(message.messageId, 'm-1');
    assert.equal(message.key, 'k');
    assert.equal(message.headers['x-h'], 'v');
    assert.equal(message.seq, published.seq);
    const acked = await socket.request({ type: 'ack', deliveries: [message.delivery] });
    assert.equal(acked.type, 'reply');
    const unsubscribed = await socket.request({ type: 'unsubscribe', subscription: 'a' });
    assert.equal(unsubscribed.type, 'reply');
    socket.send({ type: 'ping', id: 'p1' });
    const pong = await socket.waitFor((f) => f.type === 'pong' && f.id === 'p1');
    assert.equal(pong.id, 'p1');
    socket.close();
  });

  it('round-trips bytes unchanged as data_base64, and batches publish in one request', async () => {
    const socket = await RawSocket.open(running.url);
    await socket.request({ type: 'subscribe', subscription: 'b', pattern: 'proto.bytes', ack: 'auto' });
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const reply = await socket.request({
      type: 'publish',
      messages: [{ topic: 'proto.bytes', data_base64: bytes.toString('base64') }, { topic: 'proto.bytes', data: 'text' }],
    });
    assert.equal(reply.results.length, 2);
    await socket.waitFor((f) => f.type === 'message' && f.data === 'text');
    const binary = socket.frames.find((f) => f.type === 'message' && f.data_base64 !== undefined)!;
    assert.deepEqual(Buffer.from(binary.data_base64, 'base64'), bytes);
    socket.close();
  });

  it('refuses malformed frames, unknown types, invalid topics and binary frames with error frames, and keeps the connection', async () => {
    const socket = await RawSocket.open(running.url);
    socket.send('{not json');
    assert.equal((await socket.waitFor((f) => f.type === 'error' && f.code === 'BAD_FRAME')).message, 'the frame is not JSON');
    const unknown = await socket.request({ type: 'teleport' });
    assert.equal(unknown.code, 'UNKNOWN_TYPE');
    const invalid = await socket.request({ type: 'publish', topic: 'a..b', data: 1 });
    assert.equal(invalid.code, 'INVALID_TOPIC');
    assert.match(invalid.message, /empty token at position 2/);
    const wildcard = await socket.request({ type: 'subscribe', subscription: 'x', pattern: 'a.>.b' });
    assert.equal(wildcard.code, 'INVALID_TOPIC');
    const missing = await socket.request({ type: 'publish', topic: 'a.b' });
    assert.equal(missing.code, 'BAD_FRAME');
    socket.ws.send(Buffer.from([0xff, 0x00, 0x13]), { binary: true });
    await socket.waitFor((f) => f.type === 'error' && /binary frames/.test(f.message));
    const unknownSub = await socket.request({ type: 'unsubscribe', subscription: 'nope' });
    assert.equal(unknownSub.code, 'UNKNOWN_SUBSCRIPTION');
    const ok = await socket.request({ type: 'publish', topic: 'proto.still', data: 1 });
    assert.equal(ok.type, 'reply');
    socket.close();
  });

  it('handles each frame of a batch envelope on its own, and sends envelopes only to a client that asks with frames=batch', async () => {
    const plain = await RawSocket.open(running.url);
    assert.equal(plain.frames[0].batches, true);
    plain.send([{ type: 'publish', id: 'b1', topic: 'proto.envelope', data: 1 }, { type: 'publish', id: 'b2', topic: 'a..b', data: 2 }, 'junk', { type: 'ping', id: 'b3' }]);
    assert.equal((await plain.waitFor((f) => f.id === 'b1')).type, 'reply');
    assert.equal((await plain.waitFor((f) => f.id === 'b2')).code, 'INVALID_TOPIC');
    assert.equal((await plain.waitFor((f) => f.id === 'b3')).type, 'pong');
    await plain.waitFor((f) => f.type === 'error' && f.message === 'a frame must be a JSON object');
    plain.send([]);
    await plain.waitFor((f) => f.type === 'error' && /must not be empty/.test(f.message));
    assert.ok(plain.frames.every((f) => !Array.isArray(f)), 'a client that did not ask gets one frame per WebSocket frame');
    plain.close();

    const batched = await RawSocket.open(`${running.url}?frames=batch`);
    batched.send([{ type: 'ping', id: 'c1' }, { type: 'ping', id: 'c2' }]);
    const envelope = (await batched.waitFor((f) => Array.isArray(f))) as unknown as Array<Record<string, unknown>>;
    assert.deepEqual(envelope.map((f) => [f.type, f.id]), [['pong', 'c1'], ['pong', 'c2']]);
    batched.close();
  });

  it('limits subscriptions per connection and refuses a duplicate subscription id', async () => {
    const socket = await RawSocket.open(running.url);
    for (const id of ['1', '2', '3']) assert.equal((await socket.request({ type: 'subscribe', subscription: id, pattern: `lim.${id}` })).type, 'reply');
    assert.equal((await socket.request({ type: 'subscribe', subscription: '1', pattern: 'lim.x' })).code, 'DUPLICATE_SUBSCRIPTION');
    assert.equal((await socket.request({ type: 'subscribe', subscription: '4', pattern: 'lim.4' })).code, 'TOO_MANY_SUBSCRIPTIONS');
    socket.close();
  });

  it('rate-limits publishes per connection with a retriable error', async () => {
    const socket = await RawSocket.open(running.url);
    const replies = await Promise.all(Array.from({ length: 80 }, (_, n) => socket.request({ type: 'publish', topic: 'rate.x', data: n })));
    const limited = replies.filter((r) => r.code === 'RATE_LIMITED');
    assert.ok(limited.length >= 20, `${limited.length} publishes were rate-limited`);
    assert.equal(limited[0].retriable, true);
    socket.close();
  });

  it('closes a connection whose frame exceeds maxFrameBytes with code 1009, and serves others', async () => {
    const big = await RawSocket.open(running.url);
    const other = await RawSocket.open(running.url);
    big.send({ type: 'publish', id: 'x', topic: 'big.x', data: 'x'.repeat(100 * 1024) });
    assert.equal(await big.closed(), 1009);
    assert.equal((await other.request({ type: 'publish', topic: 'big.ok', data: 1 })).type, 'reply');
    other.close();
  });

  it('resumes after a seq: what was missed, in order, without the seq itself', async () => {
    const socket = await RawSocket.open(running.url);
    const seqs: string[] = [];
    for (let n = 0; n < 6; n++) seqs.push((await socket.request({ type: 'publish', topic: 'resume.t', data: n })).seq);
    const reply = await socket.request({ type: 'subscribe', subscription: 'r', pattern: 'resume.t', after: seqs[2], ack: 'auto' });
    assert.equal(reply.recovered, true);
    await socket.waitFor((f) => f.type === 'message' && f.data === 5);
    assert.deepEqual(socket.frames.filter((f) => f.type === 'message').map((f) => f.data), [3, 4, 5]);
    socket.close();
  });

  it('says recovered: false when a resume is asked of a driver without history', async () => {
    const plain = await startGateway({ bus: createBus({ driver: memory() }) });
    const socket = await RawSocket.open(plain.url);
    const reply = await socket.request({ type: 'subscribe', subscription: 'r', pattern: 'resume.t', after: '7' });
    assert.equal(reply.type, 'reply');
    assert.equal(reply.recovered, false);
    socket.close();
    await plain.close();
  });

  it('says recovered: false with the earliest seq still held when retention removed the resume position', async () => {
    const short = await startGateway({ bus: createBus({ driver: memory({ history: { maxMessages: 3 } }) }) });
    const socket = await RawSocket.open(short.url);
    const seqs: string[] = [];
    for (let n = 0; n < 6; n++) seqs.push((await socket.request({ type: 'publish', topic: 'trimmed.t', data: n })).seq);
    const reply = await socket.request({ type: 'subscribe', subscription: 'g', pattern: 'trimmed.t', after: seqs[1], ack: 'auto' });
    assert.equal(reply.recovered, false);
    assert.equal(reply.earliest, seqs[3]);
    await socket.waitFor((f) => f.type === 'message' && f.data === 5);
    const frames = socket.frames.filter((f) => f.type === 'message' || f === reply);
    assert.deepEqual(frames.map((f) => (f === reply ? 'reply' : f.data)), ['reply', 3, 4, 5], 'the reply comes before any message');
    socket.close();
    await short.close();
  });

  it('drops a client silent for two heartbeat intervals with code 4000, and keeps one that answers pings', async () => {
    const beating = await startGateway({ heartbeatMs: 50 });
    const silent = await RawSocket.open(beating.url);
    const lively = await RawSocket.open(beating.url);
    lively.ws.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'ping') lively.send({ type: 'pong' });
    });
    assert.equal(await silent.closed(2_000), 4000);
    assert.match(silent.closeReason, /no frame from the client for 100 ms/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(lively.closeCode, undefined, 'a client answering pings stays connected');
    assert.equal(beating.gateway.connections, 1);
    lively.close();
    await beating.close();
  });

  it('holds back deliveries beyond maxUnacked until acks arrive', async () => {
    const limited = await startGateway({ limits: { maxUnacked: 5 } });
    const socket = await RawSocket.open(limited.url);
    await socket.request({ type: 'subscribe', subscription: 'f', pattern: 'flow.t' });
    const publisher = await RawSocket.open(limited.url);
    for (let n = 0; n < 12; n++) void publisher.request({ type: 'publish', topic: 'flow.t', data: n }).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    const first = socket.frames.filter((f) => f.type === 'message');
    assert.equal(first.length, 5);
    await socket.request({ type: 'ack', deliveries: first.map((f) => f.delivery) });
    await socket.waitFor((f) => f.type === 'message' && f.data === 9);
    socket.close();
    publisher.close();
    await limited.close();
  });

  it('settles an ack without an id and sends no reply for it', async () => {
    const limited = await startGateway({ limits: { maxUnacked: 2 } });
    const socket = await RawSocket.open(limited.url);
    await socket.request({ type: 'subscribe', subscription: 'q', pattern: 'quiet.t' });
    const publisher = await RawSocket.open(limited.url);
    for (let n = 0; n < 4; n++) await publisher.request({ type: 'publish', topic: 'quiet.t', data: n });
    const held = await socket.waitFor((f) => f.type === 'message' && f.data === 1);
    const replies = () => socket.frames.filter((f) => f.type === 'reply').length;
    const before = replies();
    socket.send({ type: 'ack', deliveries: [held.delivery - 1, held.delivery] });
    // Only the ack frees room for the last two: they arrive once it was settled.
    const last = await socket.waitFor((f) => f.type === 'message' && f.data === 3);
    await socket.request({ type: 'ack', id: 'answered', deliveries: [last.delivery - 1, last.delivery] });
    assert.equal(replies(), before + 1, 'only the ack with an id was answered');
    assert.equal(socket.frames.filter((f) => f.type === 'error').length, 0);
    socket.close();
    publisher.close();
    await limited.close();
  });

  it('disconnects a slow consumer with code 4008 and a reason, keeping memory bounded', async () => {
    const small = await startGateway({ limits: { maxSendBufferBytes: 256 * 1024, maxUnacked: 100_000 } });
    const slow = await RawSocket.open(small.url);
    await slow.request({ type: 'subscribe', subscription: 's', pattern: 'slow.t', ack: 'auto' });
    slow.ws.pause();
    const publisher = await RawSocket.open(small.url);
    const payload = 'y'.repeat(16 * 1024);
    for (let n = 0; n < 3000 && small.gateway.connections > 1; n++) {
      await publisher.request({ type: 'publish', topic: 'slow.t', data: payload });
    }
    assert.equal(small.gateway.connections, 1, 'the slow consumer was cut off');
    slow.ws.resume();
    const code = await slow.closed();
    assert.ok(code === 4008 || code === 1006, `closed with ${code}`);
    if (code === 4008) assert.match(slow.closeReason, /slow consumer/);
    assert.equal((await publisher.request({ type: 'publish', topic: 'slow.t', data: 1 })).type, 'reply');
    publisher.close();
    await small.close();
  });
});
