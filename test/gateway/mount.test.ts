// Mounted into a user's server: plain Node http, Express and Fastify each serve the
// application's own route, the gateway's HTTP routes and its WebSocket on one port.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { createClient } from '../../src/client/client.js';
import { createBus } from '../../src/create-bus.js';
import { createGateway, gatewayPlugin, type Gateway } from '../../src/gateway/index.js';
import { NodeWebSocket, quietLogger } from '../support/gateway.js';

async function exercise(port: number, appPath: string, appText: string): Promise<void> {
  const app = await fetch(`http://127.0.0.1:${port}${appPath}`);
  assert.equal((await app.text()).trim(), appText);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
  const client = createClient({ url: `ws://127.0.0.1:${port}/v1/ws`, WebSocket: NodeWebSocket });
  const got: unknown[] = [];
  await client.subscribe('mount.t', (m) => void got.push(m.data));
  const posted = await fetch(`http://127.0.0.1:${port}/v1/publish`, { method: 'POST', body: JSON.stringify({ topic: 'mount.t', data: 'via http' }) });
  assert.equal(posted.status, 200);
  await client.publish('mount.t', 'via ws');
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, ['via http', 'via ws']);
  await client.close();
}

function fresh(): Gateway {
  return createGateway({ bus: createBus(), logger: quietLogger });
}

const listening = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

describe('mounting the gateway', () => {
  it('into a plain Node http server', async () => {
    const gateway = fresh();
    const server = createServer((req, res) => (req.url === '/hello' ? res.end('hello') : gateway.handleRequest(req, res)));
    gateway.attach(server);
    await exercise(await listening(server), '/hello', 'hello');
    await gateway.close();
    server.close();
  });

  it('into Express as middleware', async () => {
    const gateway = fresh();
    const app = express();
    app.get('/hello', (_req, res) => void res.send('hello express'));
    app.use(gateway.handleRequest);
    const server = createServer(app);
    gateway.attach(server);
    await exercise(await listening(server), '/hello', 'hello express');
    await gateway.close();
    server.close();
  });

  it("into Express: with dashboard: false it leaves the app's `/` alone, and a body parser before it gets a clear 400, not a hung request", async () => {
    const gateway = createGateway({ bus: createBus(), logger: quietLogger, dashboard: false });
    const app = express();
    app.use(express.json());
    app.use(gateway.handleRequest);
    app.get('/', (_req, res) => void res.send('the app'));
    const server = createServer(app);
    const port = await listening(server);
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'the app');
      const posted = await fetch(`http://127.0.0.1:${port}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'mount.t', data: 1 }) });
      assert.equal(posted.status, 400);
      assert.match(((await posted.json()) as { error: { message: string } }).error.message, /already read by middleware mounted before the gateway/);
    } finally {
      await gateway.close();
      server.close();
    }
  });

  it('into Fastify as a plugin', async () => {
    const gateway = fresh();
    const app = Fastify();
    app.get('/hello', async () => 'hello fastify');
    await app.register(gatewayPlugin(gateway));
    await app.listen({ port: 0, host: '127.0.0.1' });
    await exercise((app.server.address() as AddressInfo).port, '/hello', 'hello fastify');
    await gateway.close();
    await app.close();
  });
});
