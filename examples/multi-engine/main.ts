// Several engines behind one bus, chosen by topic in omnibus.config.json (beside this file):
// game.> stays in memory, billing.> goes to NATS JetStream, everything else to SQLite.
// The code only names topics; moving a family to another engine is a config change.
//   npx tsx examples/multi-engine/main.ts   (needs NATS on 127.0.0.1:4222; writes ./multi-engine.db)
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createBusFromConfig } from '../../src/index.js';

const bus = await createBusFromConfig({ path: fileURLToPath(new URL('omnibus.config.json', import.meta.url)) });
const run = `run${randomUUID().slice(0, 8)}`; // fresh topics each run: a durable engine's old messages stay out
const messages: Array<[topic: string, data: unknown]> = [
  [`game.${run}.level-up`, { player: 'ada', level: 2 }],
  [`game.${run}.level-up`, { player: 'bo', level: 7 }],
  [`billing.${run}.invoiced`, { invoice: 'inv-1', total: 30 }],
  [`billing.${run}.paid`, { invoice: 'inv-1' }],
  [`shop.${run}.order-placed`, { order: 'o-1' }],
  [`shop.${run}.order-shipped`, { order: 'o-1' }],
];

const received: Array<{ topic: string; id: string; data: unknown }> = [];
let allReceived!: () => void;
const done = new Promise<void>((resolve) => (allReceived = resolve));
for (const family of ['game', 'billing', 'shop']) {
  await bus.subscribe(`${family}.${run}.>`, (msg) => {
    received.push({ topic: msg.topic, id: msg.id, data: msg.data });
    if (received.length === messages.length) allReceived();
  });
}

// The bus counts what each driver accepted; the one whose count moved carried the message.
const carrier = new Map<string, string>();
for (const [topic, data] of messages) {
  const before = bus.stats().byDriver;
  const { id } = await bus.publish(topic, data);
  const name = Object.keys(before).find((driver) => bus.stats().byDriver[driver].published > before[driver].published)!;
  carrier.set(id, bus.drivers.find((entry) => entry.name === name)!.driver.name);
}

const timeout = setTimeout(() => {
  console.error(`only ${received.length} of ${messages.length} messages received after 10 s`);
  process.exit(1);
}, 10_000);
await done;
clearTimeout(timeout);
for (const msg of received) console.log(`${msg.topic} ${JSON.stringify(msg.data)} via ${carrier.get(msg.id)}`);
await bus.close();
