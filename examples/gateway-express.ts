// The gateway mounted into an Express app: middleware for HTTP, `attach` for WebSockets.
import express from 'express';
import { createBus } from '../src/index.js';
import { createGateway } from '../src/gateway/index.js';

const bus = createBus();
const gateway = createGateway({ bus });
const app = express();
app.get('/hello', (_req, res) => void res.send('hello from express\n'));
app.use(gateway.handleRequest); // /v1/*, /healthz; anything else goes on to `next`
const server = app.listen(Number(process.env.PORT ?? 4000), () => console.log('listening'));
gateway.attach(server);
