// The chat server: the gateway over an SQLite file (rooms keep their history across restarts
// and reconnects), the chat page, and a login that hands each user a token naming them, so
// presence can say who is in a room.
//   npx tsx examples/chat/server.ts   (PORT, default 3100; CHAT_DB, default ./chat.db)
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SignJWT } from 'jose';
import { createBus } from '../../src/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { createGateway } from '../../src/gateway/index.js';
import { NAME, ROOM_HISTORY } from './rooms.js';

const secret = process.env.CHAT_SECRET ?? randomBytes(32).toString('hex');
const bus = createBus({ driver: sqlite({ path: process.env.CHAT_DB ?? 'chat.db', retention: [{ topics: 'chat.*', maxMessages: ROOM_HISTORY * 100 }] }) });
const gateway = createGateway({ bus, auth: { jwt: { secret } } });

// The page's script, bundled once at start with omnibus/client inside (a real app bundles at build time).
const bundle = await build({ entryPoints: [fileURLToPath(new URL('page.ts', import.meta.url))], bundle: true, format: 'esm', write: false, logLevel: 'warning' });
const script = bundle.outputFiles[0].contents;
const page = await readFile(new URL('page.html', import.meta.url));

/** A token for `name`: it may talk in any room and watch who is in it, nothing else. */
function tokenFor(name: string): Promise<string> {
  return new SignJWT({ publish: ['chat.*'], subscribe: ['chat.*', '_presence.chat.*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(name)
    .setExpirationTime('12h')
    .sign(new TextEncoder().encode(secret));
}

/** The `name` of a small JSON body, or '' when there is none. */
async function nameIn(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) if ((body += chunk).length > 1_000) return '';
  try {
    return String(JSON.parse(body).name ?? '');
  } catch {
    return '';
  }
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://chat').pathname;
  if (req.method === 'GET' && path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  } else if (req.method === 'GET' && path === '/chat.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
  } else if (req.method === 'POST' && path === '/login') {
    const name = await nameIn(req);
    if (!NAME.test(name)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'a name is 1 to 24 letters, digits, _ or -' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: await tokenFor(name) }));
  } else {
    gateway.handleRequest(req, res); // /v1/presence, /v1/messages, ... and the WebSocket's HTTP side
  }
});
gateway.attach(server);
server.listen(Number(process.env.PORT ?? 3100), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`chat: open http://127.0.0.1:${port}/?room=lobby`);
});

let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await gateway.close(1_000);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await bus.close();
    console.log('chat: stopped');
  })());
process.on('SIGINT', stop).on('SIGTERM', stop);
