// Thousands of random and malformed frames from hostile sockets: the server answers each
// with an error frame or a close code, never crashes, and a well-behaved client beside them
// keeps publishing and receiving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { createClient } from '../../src/client/client.js';
import { eventually } from '../../src/testing/wait.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';

let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];

function junkValue(depth = 0): unknown {
  const kinds = ['string', 'number', 'null', 'bool', 'array', 'object', 'huge', 'unicode'];
  switch (pick(depth > 2 ? kinds.slice(0, 4) : kinds)) {
    case 'string': return pick(['', 'a..b', '>', '*', 'x.>.y', 'ok.topic', '\u0000', 'a b']);
    case 'number': return pick([0, -1, 1e308, NaN, 3.5, Number.MAX_SAFE_INTEGER + 2]);
    case 'null': return null;
    case 'bool': return random() > 0.5;
    case 'array': return Array.from({ length: Math.floor(random() * 4) }, () => junkValue(depth + 1));
    case 'huge': return 'z'.repeat(random() < 0.02 ? 200_000 : Math.floor(random() * 2_000));
    case 'unicode': return '\ud800\udfff💥';
    default: return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(['id', 'type', 'topic', 'data', 'deliveries', 'pattern', 'subscription', 'from', 'after', 'headers', 'messages']), junkValue(depth + 1)]));
  }
}

function junkFrame(): string | Buffer {
  const type = pick(['auth', 'subscribe', 'unsubscribe', 'publish', 'ack', 'nack', 'inProgress', 'reject', 'ping', 'pong', 'bogus', undefined]);
  switch (Math.floor(random() * 6)) {
    case 0: return Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
    case 1: return '{"type":"publish","id":"1","topic":'.slice(0, Math.floor(random() * 35));
    case 2: return JSON.stringify(junkValue());
    default: {
      const frame: Record<string, unknown> = { type, id: pick(['f', 7, undefined, '']) };
      for (let i = 0; i < 4; i++) frame[pick(['topic', 'data', 'pattern', 'subscription', 'deliveries', 'messages', 'from', 'after', 'headers', 'ttlMs', 'data_base64', 'group', 'token'])] = junkValue();
      return JSON.stringify(frame);
    }
  }
}

describe('gateway fuzz', () => {
  let running: Running;
  before(async () => {
    running = await startGateway({ limits: { maxFrameBytes: 128 * 1024, publishRate: { perSecond: 100_000 } } });
  });
  after(() => running.close());

  it('survives 5,000 random and malformed frames while a well-behaved client keeps working', { timeout: 60_000 }, async () => {
    const good = createClient({ url: running.url, WebSocket: NodeWebSocket });
    const received: number[] = [];
    await good.subscribe('fuzz.good', (m) => void received.push(m.data as number));
    let sent = 0;
    let answered = 0;
    const closes = new Map<number, number>();
    const attackers = Array.from({ length: 10 }, async () => {
      while (sent < 5_000) {
        const ws = new WebSocket(running.url);
        ws.on('error', () => {});
        ws.on('message', () => void answered++);
        await new Promise((resolve) => ws.once('open', resolve).once('close', resolve));
        for (let i = 0; i < 100 && ws.readyState === ws.OPEN; i++, sent++) {
          const frame = junkFrame();
          ws.send(frame, { binary: Buffer.isBuffer(frame) });
          if (i % 20 === 0) await new Promise((r) => setImmediate(r));
        }
        const code = await new Promise<number>((resolve) => {
          ws.once('close', (c) => resolve(c));
          setTimeout(() => ws.close(), 50);
        });
        closes.set(code, (closes.get(code) ?? 0) + 1);
      }
    });
    let published = 0;
    const behaving = (async () => {
      while (sent < 5_000) await good.publish('fuzz.good', published++);
    })();
    await Promise.all([...attackers, behaving]);
    assert.ok(sent >= 5_000);
    console.log(`# ${sent} frames sent, ${answered} frames answered, closes ${JSON.stringify([...closes])}`);
    assert.ok(answered > 2_000, `the server answered ${answered} frames`);
    assert.ok([...closes.keys()].every((code) => [1000, 1005, 1006, 1007, 1009, 4001].includes(code)), `close codes ${[...closes.keys()]}`);
    await eventually(() => received.length === published, `all ${published} good messages`, 10_000);
    assert.deepEqual(received, [...Array(published).keys()]);
    const health = await fetch(`${running.http}/healthz`);
    assert.equal(health.status, 200);
    await good.close();
  });
});
