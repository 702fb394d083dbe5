// The catalogue where users reach it: the gateway's GET /asyncapi.json (with the gateway as the
// document's server), and `omnibus asyncapi <module>` writing the document of a module's catalogue.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Parser } from '@asyncapi/parser';
import { z } from 'zod';
import { defineCatalog, defineEvent } from '../../src/index.js';
import { startGateway } from '../support/gateway.js';

const run = promisify(execFile);
const catalog = defineCatalog([defineEvent('orders.placed', z.object({ id: z.string() }), { description: 'A customer placed an order.', example: { id: 'o-1' } })]);

async function parserErrors(document: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  return diagnostics.filter((d) => d.severity === 0).map((d) => d.message);
}

describe('serving the catalogue', () => {
  it('GET /asyncapi.json answers the document, with the gateway as its server by the address the client used', async () => {
    const gateway = await startGateway({ asyncapi: { catalog, title: 'Shop', version: '2.0.0' } });
    try {
      const response = await fetch(`${gateway.http}/asyncapi.json`);
      assert.equal(response.status, 200);
      const document = (await response.json()) as Record<string, any>;
      assert.deepEqual(document.info, { title: 'Shop', version: '2.0.0' });
      assert.deepEqual(document.servers.gateway, { host: `127.0.0.1:${gateway.port}`, protocol: 'ws', pathname: '/v1/ws', description: document.servers.gateway.description });
      assert.equal(document.channels.orders_placed.address, 'orders.placed');
      assert.deepEqual(await parserErrors(document), []);
    } finally {
      await gateway.close();
    }
  });

  it('answers 404 without a catalogue, and needs a token where the gateway does', async () => {
    const bare = await startGateway();
    const secured = await startGateway({ asyncapi: { catalog }, auth: { apiKeys: [{ key: 'k' }] } });
    try {
      assert.equal((await fetch(`${bare.http}/asyncapi.json`)).status, 404);
      assert.equal((await fetch(`${secured.http}/asyncapi.json`)).status, 401);
      assert.equal((await fetch(`${secured.http}/asyncapi.json`, { headers: { authorization: 'Bearer k' } })).status, 200);
    } finally {
      await bare.close();
      await secured.close();
    }
  });

  it('omnibus asyncapi writes the document of the catalogue a module exports, and names a module without one', async () => {
    // In the package, so the module's `omnibus` import resolves as a user's would.
    const dir = mkdtempSync(join(process.cwd(), '.snippet-'));
    try {
      writeFileSync(
        join(dir, 'events.mjs'),
        "import { z } from 'zod';\nimport { defineCatalog, defineEvent } from 'omnibus';\nexport const catalog = defineCatalog([defineEvent('users.created', z.object({ name: z.string() }))]);\n",
      );
      writeFileSync(join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
      const cli = (...args: string[]) => run(process.execPath, ['dist/cli/main.js', 'asyncapi', ...args]);
      const { stdout } = await cli(join(dir, 'events.mjs'), '--title', 'Users', '--server', 'wss://bus.example.com/v1/ws');
      const document = JSON.parse(stdout);
      assert.equal(document.info.title, 'Users');
      assert.deepEqual(document.servers.gateway, { host: 'bus.example.com', protocol: 'wss', pathname: '/v1/ws' });
      assert.equal(document.channels.users_created.address, 'users.created');
      assert.deepEqual(await parserErrors(document), []);
      await assert.rejects(cli(join(dir, 'empty.mjs')), (error: { code: number; stderr: string }) => error.code === 2 && /exports no catalogue/.test(error.stderr));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
