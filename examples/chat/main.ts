// The chat, started with one command: the server (gateway, page and login, server.ts) and a
// bot in a process of its own (bot.ts). Open the address it prints in a browser or two.
//   npx tsx examples/chat/main.ts   (PORT, default 3100; CHAT_DB, default ./chat.db)
import { launch } from '../launch.js';

const open = await launch(import.meta.url, 'server.ts', {}, /^chat: open (http:\/\/[^/]+)\//);
await launch(import.meta.url, 'bot.ts', { CHAT_URL: open![1] });
