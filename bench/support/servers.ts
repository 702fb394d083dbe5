// Child processes for bench/gateway.ts and bench/scale.ts: `gateway` (Omnibus over the memory
// driver, its limits raised for many connections and messages from one address), `relay` (a
// bare ws server forwarding every frame to every other client) or `socketio` (a Socket.IO room
// broadcast, each publish acknowledged once emitted). Prints its port; answers each
// IPC message (bench/scale.ts opens the channel) with its memory after a full collection.
import { createServer } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Server } from 'socket.io';
import { WebSocketServer, type WebSocket } from 'ws';
import { createBus } from '../../src/create-bus.js';
import { createGateway } from '../../src/gateway/index.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

if (process.argv[2] === 'gateway') {
  const gateway = createGateway({
    bus: createBus(),
    limits: { maxConnectionsPerClient: 100_000, publishRate: { perSecond: 10_000_000 } },
    dashboard: false,
  });
  process.stdout.write(`${await gateway.listen(0, '127.0.0.1')}\n`);
} else if (process.argv[2] === 'socketio') {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.on('join', async (room: string, ack: () => void) => {
      await socket.join(room);
      ack();
    });
    socket.on('publish', (room: string, data: unknown, ack: () => void) => {
      socket.to(room).emit('message', room, data);
      ack();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${(http.address() as { port: number }).port}\n`);
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

process.on('message', () => {
  collectGarbage();
  const { rss, heapUsed } = process.memoryUsage();
  process.send!({ rss, heapUsed });
});
