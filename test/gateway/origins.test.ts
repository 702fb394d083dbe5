// Which web pages may use the gateway, over real sockets: a page from another origin cannot
// open a WebSocket or make requests unless allowedOrigins names it; non-browser clients
// (no Origin header) and the gateway's own and loopback origins are served.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { createBus } from '../../src/create-bus.js';
import { createGateway } from '../../src/gateway/index.js';
import { startGateway } from '../support/gateway.js';

/** A GET with headers fetch will not send (Host). */
function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function upgrade(url: string, origin?: string, host?: string): Promise<number> {
  const ws = new WebSocket(url, { ...(origin === undefined ? {} : { origin }), ...(host === undefined ? {} : { headers: { host } }) });
  return new Promise((resolve) => {
    ws.on('open', () => (ws.terminate(), resolve(101)));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });
}

describe('gateway origins', () => {
  it('refuses a WebSocket upgrade and a publish from a foreign page by default, and serves loopback pages and non-browser clients', async () => {
    const running = await startGateway();
    try {
      assert.equal(await upgrade(running.url, 'https://evil.example'), 403);
      const post = await fetch(`${running.http}/v1/publish`, {
        method: 'POST',
        headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
        body: JSON.stringify({ topic: 'csrf.t', data: 1 }),
      });
      assert.equal(post.status, 403);
      assert.match(((await post.json()) as { error: { message: string } }).error.message, /origin https:\/\/evil\.example may not use this gateway; add it to the gateway's allowedOrigins/);
      assert.equal(running.gateway.bus.stats().published, 0, 'the foreign page published nothing');
      // DNS rebinding: a page on another name resolving to 127.0.0.1 is its own origin.
      const name = `attacker.example:${running.port}`;
      const rebound = await get(running.port, '/v1/topics', { origin: `http://${name}`, host: name });
      assert.equal(rebound.status, 403);
      assert.match(rebound.body, /host attacker\.example:\d+ is not this gateway's/);
      assert.equal(await upgrade(running.url, `http://${name}`, name), 403, 'nor a WebSocket');
      assert.equal(await upgrade(running.url), 101, 'no Origin: not a browser page');
      assert.equal(await upgrade(running.url, `http://127.0.0.1:${running.port}`), 101, 'its own origin');
      assert.equal(await upgrade(running.url, 'http://localhost:5173'), 101, 'a dev server on loopback');
    } finally {
      await running.close();
    }
  });

  it('serves the origins allowedOrigins names, and only those', async () => {
    const running = await startGateway({ allowedOrigins: ['https://app.example.com'] });
    try {
      assert.equal(await upgrade(running.url, 'https://app.example.com'), 101);
      assert.equal(await upgrade(running.url, 'http://localhost:5173'), 403, 'naming origins replaces the loopback default');
      const history = await fetch(`${running.http}/v1/topics`, { headers: { origin: 'https://other.example.com' } });
      assert.equal(history.status, 403);
    } finally {
      await running.close();
    }
  });

  it('listen() refuses a non-loopback address without auth, unless insecure', async () => {
    const bus = createBus();
    try {
      await assert.rejects(createGateway({ bus }).listen(0, '0.0.0.0'), /no auth, so on 0\.0\.0\.0 anyone/);
      const open = createGateway({ bus, insecure: true });
      assert.ok((await open.listen(0, '0.0.0.0')) > 0);
      await open.close();
      const secured = createGateway({ bus, auth: { apiKeys: [{ key: 'k' }] } });
      assert.ok((await secured.listen(0, '0.0.0.0')) > 0);
      await secured.close();
    } finally {
      await bus.close();
    }
  });
});
