// Child processes for bench/gateway.ts: `gateway` (Omnibus over the memory driver) or
// `relay` (a bare ws server forwarding every text frame to every other client).
import { WebSocketServer, type WebSocket } from 'ws';
import { createBus } from '../../src/create-bus.js';
import { createGateway } from '../../src/gateway/index.js';

const kind = process.argv[2];
if (kind === 'gateway') {
  const gateway = createGateway({ bus: createBus(), limits: { publishRate: { perSecond: 10_000_000 } } });
  const port = await gateway.listen(0, '127.0.0.1');
  process.stdout.write(`${port}\n`);
} else {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) if (client !== ws && client.readyState === 1) client.send(data, { binary: isBinary });
    });
  });
  process.stdout.write(`${(wss.address() as { port: number }).port}\n`);
}
