// The gateway mounted into a plain Node http server beside the application's own routes.
import { createServer } from 'node:http';
import { createBus } from '../src/index.js';
import { createGateway } from '../src/gateway/index.js';

const bus = createBus();
const gateway = createGateway({ bus });
const server = createServer((req, res) => {
  if (req.url === '/hello') return void res.end('hello from the app\n');
  gateway.handleRequest(req, res); // /v1/*, /healthz; 404 for the rest
});
gateway.attach(server); // WebSocket upgrades on /v1/ws
server.listen(Number(process.env.PORT ?? 4000), () => console.log('listening; try curl localhost:4000/healthz'));
