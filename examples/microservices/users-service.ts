// The users service: an Express app whose `POST /users` creates a user and publishes
// `user.created`, with the gateway mounted beside its routes so other services reach the bus
// over WebSocket. The bus is an SQLite file, so a consumer that is down catches up later.
//   npx tsx examples/microservices/users-service.ts   (PORT, default 3000; USERS_DB, default ./users.db)
import { randomUUID } from 'node:crypto';
import express from 'express';
import { z } from 'zod';
import { createBus } from '../../src/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { createGateway } from '../../src/gateway/index.js';
import { UserCreated, type User } from './events.js';

const NewUser = z.object({ name: z.string().min(1), email: z.email() });

const bus = createBus({ driver: sqlite({ path: process.env.USERS_DB ?? 'users.db' }) });
const gateway = createGateway({ bus });
const users = new Map<string, User>();

const app = express();
// The JSON parser on this route only: the gateway reads its own request bodies.
app.post('/users', express.json(), async (req, res) => {
  const input = NewUser.safeParse(req.body);
  if (!input.success) {
    res.status(400).json({ error: { code: 'INVALID_USER', message: z.prettifyError(input.error) } });
    return;
  }
  const user = { id: randomUUID(), ...input.data };
  // The user id is the message id too: a client retrying this publish cannot create it twice downstream.
  // (Keeping the user and its event in one transaction is the outbox's job: see examples/checkout-saga.)
  await bus.publish(UserCreated, user, { id: user.id, key: user.id });
  users.set(user.id, user);
  console.log(`users: created ${user.id} (${user.name})`);
  res.status(201).json(user);
});
app.get('/users/:id', (req, res) => {
  const user = users.get(req.params.id);
  if (user === undefined) res.status(404).json({ error: { code: 'NO_SUCH_USER', message: `no user with id '${req.params.id}'` } });
  else res.json(user);
});
app.use(gateway.handleRequest); // /v1/* (the WebSocket's HTTP side, publish, history), /healthz

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`users: listening on http://127.0.0.1:${port}`);
});
gateway.attach(server);

// Ctrl-C reaches this process and the launcher both, and the launcher then sends SIGTERM: stop once.
let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await gateway.close(1_000); // tells connected services, then drops them
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await bus.close();
    console.log('users: stopped');
  })());
process.on('SIGINT', stop).on('SIGTERM', stop);
