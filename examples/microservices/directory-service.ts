// The directory service, in a process of its own: receives `user.created` through the
// gateway client (the same client a browser uses) and keeps every user in a JSON file.
// Its group remembers its place, so users created while it was down arrive when it is back.
//   npx tsx examples/microservices/directory-service.ts
//   (GATEWAY_URL, default ws://127.0.0.1:3000/v1/ws; DIRECTORY_FILE, default ./directory.json)
import { readFile, rename, writeFile } from 'node:fs/promises';
import { WebSocket } from 'ws';
import { createClient, type WebSocketConstructor } from '../../src/client/index.js';
import { UserCreated, type User } from './events.js';

const file = process.env.DIRECTORY_FILE ?? 'directory.json';
const client = createClient({
  url: process.env.GATEWAY_URL ?? 'ws://127.0.0.1:3000/v1/ws',
  WebSocket: WebSocket as unknown as WebSocketConstructor, // Node 20 has no global WebSocket
});

async function store(user: User): Promise<void> {
  const directory: Record<string, User> = JSON.parse(await readFile(file, 'utf8').catch(() => '{}'));
  directory[user.id] = user; // keyed by id: a redelivered message rewrites the same entry
  await writeFile(`${file}.tmp`, JSON.stringify(directory, null, 2));
  await rename(`${file}.tmp`, file); // readers never see a half-written file
}

await client.subscribe<User>(UserCreated.topic, async (message) => {
  await store(message.data);
  console.log(`directory: stored ${message.data.id} (${message.data.name})`);
}, { group: 'directory', from: 'earliest' });
console.log(`directory: subscribed to ${UserCreated.topic}, storing users in ${file}`);

// Ctrl-C reaches this process and the launcher both, and the launcher then sends SIGTERM: stop once.
let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await client.close();
    console.log('directory: stopped');
  })());
process.on('SIGINT', stop).on('SIGTERM', stop);
