// One program, any broker: the driver comes from omnibus.config.json or OMNIBUS_URL
// (memory:, sqlite:omnibus.db, nats://, redis://, postgres://, kafka://), never from the code.
//   OMNIBUS_URL=redis://127.0.0.1:6379 npx tsx examples/config-swap.ts
import { createBusFromConfig } from '../src/index.js';

const bus = await createBusFromConfig();
const billed: string[] = [];
let allBilled!: () => void;
const done = new Promise<void>((resolve) => (allBilled = resolve));

await bus.subscribe('shop.orders.*', async (msg) => {
  billed.push((msg.data as { id: string }).id);
  if (billed.length === 5) allBilled();
}, { group: 'billing' });

for (let n = 1; n <= 5; n++) await bus.publish('shop.orders.placed', { id: `order-${n}`, total: n * 10 });

const timeout = setTimeout(() => {
  console.error(`only ${billed.length} of 5 orders billed after 10 s`);
  process.exit(1);
}, 10_000);
await done;
clearTimeout(timeout);
console.log(JSON.stringify({ driver: bus.drivers[0].driver.name, billed: billed.sort() }));
await bus.close();
