// A Node client in a room: it greets whoever joins (from the gateway's presence events) and
// answers `!echo <text>`. The same omnibus/client the page uses, with ws's WebSocket.
//   npx tsx examples/chat/bot.ts   (CHAT_URL, default http://127.0.0.1:3100; ROOM, default lobby)
import { WebSocket } from 'ws';
import { createClient, type WebSocketConstructor } from '../../src/client/index.js';
import { presenceTopic, roomTopic, type ChatLine, type PresenceEvent } from './rooms.js';

const base = process.env.CHAT_URL ?? 'http://127.0.0.1:3100';
const room = process.env.ROOM ?? 'lobby';
const name = 'bot';

const { token } = await (await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })).json();
const client = createClient({ url: `${base.replace(/^http/, 'ws')}/v1/ws`, token, WebSocket: WebSocket as unknown as WebSocketConstructor });
const say = (text: string) => client.publish(roomTopic(room), { from: name, text } satisfies ChatLine);

await client.subscribe<PresenceEvent>(presenceTopic(room), async ({ data }) => {
  if (data.name === name) return;
  console.log(`bot: ${data.name} ${data.type === 'presence.join' ? 'joined' : 'left'} ${room}`);
  if (data.type === 'presence.join') await say(`welcome, ${data.name}`);
});
await client.subscribe<ChatLine>(roomTopic(room), async ({ data }) => {
  const echo = /^!echo (.+)$/.exec(data.text);
  if (echo && data.from !== name) await say(echo[1]);
});
console.log(`bot: joined ${room}`);

let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await client.close();
    console.log('bot: stopped');
  })());
process.on('SIGINT', stop).on('SIGTERM', stop);
