// Bearer tokens over real sockets: API keys and JWTs (HS256, RS256) grant publish and
// subscribe patterns; tenants are prefixes a client cannot leave.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import { WebSocket } from 'ws';
import { createClient } from '../../src/client/client.js';
import { GatewayError } from '../../src/client/errors.js';
import { eventually } from '../../src/testing/wait.js';
import { NodeWebSocket, RawSocket, startGateway, type Running } from '../support/gateway.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

async function hs256(claims: Record<string, unknown>, expires = '1h'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expires).sign(new TextEncoder().encode(SECRET));
}

describe('gateway auth', () => {
  let running: Running;
  let rsaRunning: Running;
  before(async () => {
    running = await startGateway({
      auth: {
        apiKeys: [
          { key: 'admin-key', name: 'admin' },
          { key: 'reader-key', publish: [], subscribe: ['news.>'] },
          { key: 'tenant-a', tenant: 'acme' },
          { key: 'tenant-b', tenant: 'globex' },
        ],
        jwt: { secret: SECRET },
      },
    });
    rsaRunning = await startGateway({ auth: { jwt: { publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string } } });
  });
  after(async () => {
    await running.close();
    await rsaRunning.close();
  });

  it('refuses requests before authentication and closes on a bad token with 4001', async () => {
    const socket = await RawSocket.open(running.url);
    assert.equal(socket.frames[0].authRequired, true);
    assert.equal(socket.frames[0].authenticated, false);
    assert.equal((await socket.request({ type: 'publish', topic: 'a.b', data: 1 })).code, 'UNAUTHORIZED');
    const bad = await socket.request({ type: 'auth', token: 'wrong' });
    assert.equal(bad.code, 'UNAUTHORIZED');
    assert.equal(await socket.closed(), 4001);
  });

  it('refuses a WebSocket upgrade with an invalid bearer header with HTTP 401', async () => {
    const ws = new WebSocket(running.url, { headers: { authorization: 'Bearer nope' } });
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 401);
  });

  it('an API key may publish and subscribe only where its grant says', async () => {
    const socket = await RawSocket.open(running.url, { authorization: 'Bearer reader-key' });
    assert.equal((await socket.request({ type: 'subscribe', subscription: '1', pattern: 'news.sport' })).type, 'reply');
    const wider = await socket.request({ type: 'subscribe', subscription: '2', pattern: '>' });
    assert.equal(wider.code, 'FORBIDDEN');
    assert.equal((await socket.request({ type: 'subscribe', subscription: '3', pattern: 'orders.*' })).code, 'FORBIDDEN');
    const publish = await socket.request({ type: 'publish', topic: 'news.sport', data: 1 });
    assert.equal(publish.code, 'FORBIDDEN');
    assert.match(publish.message, /not allowed to publish to 'news.sport'/);
    socket.close();
  });

  it('a JWT (HS256) grants its claims; an expired or forged one is refused', async () => {
    const token = await hs256({ sub: 'game-7', publish: ['game.*.moves'], subscribe: ['game.>'] });
    const client = createClient({ url: running.url, token, WebSocket: NodeWebSocket });
    await client.ready();
    await client.publish('game.7.moves', { x: 1 });
    await assert.rejects(client.publish('game.7.chat', 'hi'), (error: GatewayError) => error.code === 'FORBIDDEN');
    await assert.rejects(client.subscribe('orders.>', () => {}), (error: GatewayError) => error.code === 'FORBIDDEN');
    await client.close();

    const expired = await hs256({ publish: ['>'] }, '-1m');
    const refused = createClient({ url: running.url, token: expired, WebSocket: NodeWebSocket });
    refused.on('error', () => {});
    await assert.rejects(refused.ready(), (error: GatewayError) => error.code === 'UNAUTHORIZED' && /exp/.test(error.message));
    const forged = await new SignJWT({ publish: ['>'] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-another-secret-xx'));
    const socket = await RawSocket.open(running.url);
    assert.equal((await socket.request({ type: 'auth', token: forged })).code, 'UNAUTHORIZED');
  });

  it('a JWT signed with RS256 is verified against the public key', async () => {
    const key = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256');
    const token = await new SignJWT({ publish: ['rsa.>'], subscribe: ['rsa.>'] }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(key);
    const socket = await RawSocket.open(rsaRunning.url);
    assert.equal((await socket.request({ type: 'auth', token })).type, 'reply');
    assert.equal((await socket.request({ type: 'publish', topic: 'rsa.x', data: 1 })).type, 'reply');
    assert.equal((await socket.request({ type: 'publish', topic: 'other.x', data: 1 })).code, 'FORBIDDEN');
    socket.close();
    const hsToken = await hs256({ publish: ['>'] });
    const other = await RawSocket.open(rsaRunning.url);
    assert.equal((await other.request({ type: 'auth', token: hsToken })).code, 'UNAUTHORIZED');
  });

  it("a token for tenant A never sees tenant B's messages, even subscribed to '>'", async () => {
    const a = createClient({ url: running.url, token: 'tenant-a', WebSocket: NodeWebSocket });
    const b = createClient({ url: running.url, token: 'tenant-b', WebSocket: NodeWebSocket });
    const admin = createClient({ url: running.url, token: 'admin-key', WebSocket: NodeWebSocket });
    const seenA: string[] = [];
    const seenB: string[] = [];
    const seenAdmin: string[] = [];
    await a.subscribe('>', (m) => void seenA.push(`${m.topic}=${m.data}`));
    await b.subscribe('>', (m) => void seenB.push(`${m.topic}=${m.data}`));
    await admin.subscribe('>', (m) => void seenAdmin.push(`${m.topic}=${m.data}`));
    await a.publish('orders.placed', 'from-a');
    await b.publish('orders.placed', 'from-b');
    await admin.publish('acme.orders.placed', 'admin-to-acme');
    // The admin's publish comes last: once everyone has what they may see, a leak would be there too.
    await eventually(() => seenAdmin.length === 3 && seenA.length >= 2 && seenB.length >= 1, 'every permitted delivery');
    assert.deepEqual(seenA.sort(), ['orders.placed=admin-to-acme', 'orders.placed=from-a']);
    assert.deepEqual(seenB, ['orders.placed=from-b']);
    assert.ok(seenAdmin.includes('acme.orders.placed=from-a') && seenAdmin.includes('globex.orders.placed=from-b'));
    // History reads are fenced the same way.
    const response = await fetch(`${running.http}/v1/messages?topic=orders.placed&from=earliest`, { headers: { authorization: 'Bearer tenant-b' } });
    const body = (await response.json()) as { messages: Array<{ data: unknown }> };
    assert.deepEqual(body.messages.map((m) => m.data), ['from-b']);
    await Promise.all([a.close(), b.close(), admin.close()]);
  });

  it('GET /v1/topics lists each tenant only its own topics, by its own names, counting every message of a batch', async () => {
    const topics = async (token: string) => {
      const response = await fetch(`${running.http}/v1/topics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200);
      const { topics } = (await response.json()) as { topics: Array<{ topic: string; published: number }> };
      return Object.fromEntries(topics.filter((t) => /^(acme\.)?(secret|plans)\./.test(t.topic)).map((t) => [t.topic, t.published]));
    };
    const publish = (token: string, body: unknown) =>
      fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await publish('tenant-a', { messages: [{ topic: 'plans.q1', data: 1 }, { topic: 'secret.plan', data: 2 }, { topic: 'secret.plan', data: 3 }] })).status, 200);
    const socket = await RawSocket.open(running.url, { authorization: 'Bearer tenant-a' });
    assert.equal((await socket.request({ type: 'publish', topic: 'secret.plan', data: 4 })).type, 'reply');
    socket.close();
    assert.deepEqual(await topics('tenant-a'), { 'plans.q1': 1, 'secret.plan': 3 });
    assert.deepEqual(await topics('tenant-b'), {}, "globex sees nothing of acme's");
    assert.deepEqual(await topics('admin-key'), { 'acme.plans.q1': 1, 'acme.secret.plan': 3 }, 'an admin sees full names');
  });

  it('refuses a JWT whose tenant, publish or subscribe claim is malformed, with 401 saying why', async () => {
    for (const [claims, reason] of [
      [{ tenant: 5, subscribe: ['>'] }, /"tenant" claim must be a string, got number/],
      [{ tenant: ['acme'], subscribe: ['>'] }, /"tenant" claim must be a string, got an array/],
      [{ tenant: null, subscribe: ['>'] }, /"tenant" claim must be a string, got null/],
      [{ tenant: '', subscribe: ['>'] }, /the token names an invalid tenant: topic is empty/],
      [{ subscribe: '>' }, /"subscribe" claim must be an array of patterns, got string/],
      [{ publish: ['ok.>', 7] }, /"publish" claim must be an array of patterns/],
    ] as const) {
      const token = await hs256(claims);
      const history = await fetch(`${running.http}/v1/messages?topic=>&from=earliest`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(history.status, 401, JSON.stringify(claims));
      assert.match(((await history.json()) as { error: { message: string } }).error.message, reason);
      const socket = await RawSocket.open(running.url);
      const refused = await socket.request({ type: 'auth', token });
      assert.equal(refused.code, 'UNAUTHORIZED');
      assert.equal(await socket.closed(), 4001);
    }
  });

  it('HTTP refuses a missing or wrong token with 401 and a forbidden topic with 403', async () => {
    const none = await fetch(`${running.http}/v1/publish`, { method: 'POST', body: JSON.stringify({ topic: 'a.b', data: 1 }) });
    assert.equal(none.status, 401);
    const wrong = await fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { authorization: 'Bearer x' }, body: JSON.stringify({ topic: 'a.b', data: 1 }) });
    assert.equal(wrong.status, 401);
    const forbidden = await fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { authorization: 'Bearer reader-key' }, body: JSON.stringify({ topic: 'news.x', data: 1 }) });
    assert.equal(forbidden.status, 403);
    const sse = await fetch(`${running.http}/v1/stream?pattern=orders.>&access_token=reader-key`);
    assert.equal(sse.status, 403);
  });

  it('GET /metrics needs a token without a tenant that may subscribe to everything', async () => {
    const metrics = (token?: string) => fetch(`${running.http}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    assert.equal((await metrics()).status, 401);
    assert.equal((await metrics('reader-key')).status, 403);
    assert.equal((await metrics('tenant-a')).status, 403);
    assert.equal((await metrics('admin-key')).status, 200);
  });
});
