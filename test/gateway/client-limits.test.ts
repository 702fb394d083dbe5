// Limits per client over real sockets: connections per token or address, and dead letters
// made for a client's subscription charged to that client's publish rate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { eventually } from '../../src/testing/wait.js';
import { RawSocket, startGateway } from '../support/gateway.js';

/** The HTTP status an upgrade got: 101 when it became a WebSocket. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; ws?: WebSocket }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve) => {
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.on('error', () => {});
  });
}

describe('gateway limits per client', () => {
  it('caps connections per token and per address with 429, counting SSE streams, and frees a place on close', async () => {
    const running = await startGateway({
      limits: { maxConnectionsPerClient: 3 },
      auth: { apiKeys: [{ key: 'one-key', name: 'one' }, { key: 'two-key', name: 'two' }], anonymous: { subscribe: ['>'] } },
    });
    try {
      const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
      const open: WebSocket[] = [];
      for (let n = 0; n < 3; n++) {
        const { status, ws } = await upgradeStatus(running.url, bearer('one-key'));
        assert.equal(status, 101);
        open.push(ws!);
      }
      assert.equal((await upgradeStatus(running.url, bearer('one-key'))).status, 429, 'a fourth connection of one token');
      const sse = await fetch(`${running.http}/v1/stream?pattern=a.b`, { headers: bearer('one-key') });
      assert.equal(sse.status, 429);
      assert.equal(((await sse.json()) as { error: { code: string } }).error.code, 'TOO_MANY_CONNECTIONS');
      const other = await upgradeStatus(running.url, bearer('two-key'));
      assert.equal(other.status, 101, 'another token has places of its own');
      other.ws!.terminate();

      // Without a token the address is the client; a token given later by frame moves the connection over.
      const anonymous: RawSocket[] = [];
      for (let n = 0; n < 3; n++) anonymous.push(await RawSocket.open(running.url));
      assert.equal((await upgradeStatus(running.url)).status, 429, 'a fourth anonymous connection from one address');
      const moved = await anonymous[0].request({ type: 'auth', token: 'one-key' });
      assert.equal(moved.code, 'TOO_MANY_CONNECTIONS');
      assert.equal(await anonymous[0].closed(), 4029);

      open.pop()!.terminate();
      await eventually(() => running.gateway.connections === 4, 'the closed connections counted out');
      assert.equal((await upgradeStatus(running.url, bearer('one-key'))).status, 101, 'a place came free');
      const back = await anonymous[1].request({ type: 'auth', token: 'two-key' });
      assert.equal(back.type, 'reply');
      assert.equal((await upgradeStatus(running.url)).status, 101, 'the authenticated connection left the address');
    } finally {
      await running.close();
    }
  });

  it("charges dead letters made for a client's subscription to that client's publish rate", async () => {
    // Three dead letters' worth of rate, and practically no refill.
    const running = await startGateway({ limits: { publishRate: { perSecond: 0.001, burst: 3 } } });
    try {
      const refusals: unknown[] = [];
      running.bus.on('error', ({ error }) => void refusals.push(error));
      const dead: unknown[] = [];
      await running.bus.subscribe('dead.jobs', (message) => void dead.push(message.data));
      const client = await RawSocket.open(running.url);
      const loop = await client.request({ type: 'subscribe', subscription: 'loop', pattern: 'jobs.*', deadLetter: 'jobs.dead' });
      assert.equal(loop.code, 'BAD_FRAME', 'a dead-letter topic inside its own pattern is refused');
      assert.match(loop.message, /matches the subscription's own pattern/);
      const subscribed = await client.request({ type: 'subscribe', subscription: 's', pattern: 'jobs.*', maxAttempts: 1, deadLetter: 'dead.jobs' });
      assert.equal(subscribed.type, 'reply');
      const rejected = new Set<number>();
      client.ws.on('message', (raw) => {
        for (const frame of [JSON.parse(String(raw))].flat()) {
          if (frame.type !== 'message') continue;
          rejected.add(frame.data);
          client.send({ type: 'reject', id: `r${frame.delivery}`, deliveries: [frame.delivery], reason: 'no' });
        }
      });
      await running.bus.publishMany(Array.from({ length: 10 }, (_, n) => ({ topic: 'jobs.x', data: n })));
      await eventually(() => rejected.size === 10 && dead.length === 3, 'every job rejected and three dead letters');
      // The rest stay with the broker, refused until the client's rate allows: they come back, never as dead letters.
      const seen = rejected.size;
      await eventually(() => client.frames.filter((f) => f.type === 'message').length > seen, 'a refused dead letter delivered again');
      assert.equal(dead.length, 3);
      assert.match(String(refusals[0]), /dead letter refused: the client's publish rate \(0.001 messages per second\) is spent/);
      client.close();
    } finally {
      await running.close();
    }
  });
});
