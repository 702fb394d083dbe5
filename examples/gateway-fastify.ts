// The gateway mounted into Fastify as a plugin: routes through Fastify's router, WebSocket
// upgrades on Fastify's server.
import Fastify from 'fastify';
import { createBus } from '../src/index.js';
import { createGateway, gatewayPlugin } from '../src/gateway/index.js';

const bus = createBus();
const gateway = createGateway({ bus });
const app = Fastify();
app.get('/hello', async () => 'hello from fastify\n');
await app.register(gatewayPlugin(gateway));
await app.listen({ port: Number(process.env.PORT ?? 4000) });
