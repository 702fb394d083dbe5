// Two services in two processes, started with one command: the users service (Express and the
// gateway, examples/microservices/users-service.ts) and the directory service that consumes its
// `user.created` events through the gateway client (directory-service.ts). Ctrl-C stops both.
//   npx tsx examples/microservices/main.ts   (PORT, default 3000; files go to the working directory)
//   curl -X POST http://127.0.0.1:3000/users -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}'
import { launch } from '../launch.js';

const listening = await launch(import.meta.url, 'users-service.ts', {}, /^users: listening on http(:\/\/\S+)$/);
await launch(import.meta.url, 'directory-service.ts', { GATEWAY_URL: `ws${listening![1]}/v1/ws` });
