// The README's quick start, runnable: `npm start`.
import { z } from 'zod';
import { createBus, defineEvent } from '../src/index.js';

const OrderPlaced = defineEvent('orders.placed', z.object({ id: z.string(), total: z.number().positive() }));

const bus = createBus(); // in-memory; switch brokers with createBusFromConfig()

// Every subscriber sees every message; a group shares them among its members.
await bus.subscribe('orders.*', (msg) => console.log('audit  ', msg.topic, msg.data));
await bus.subscribe(OrderPlaced, async (msg) => {
  console.log('billing', msg.data.id, msg.data.total);
  if (msg.data.total > 1000 && msg.attempt < 2) throw new Error('fraud check timed out'); // retried
}, { group: 'billing', backoff: { initialMs: 50 } });

await bus.publish(OrderPlaced, { id: 'o-1', total: 25 });
await bus.publish(OrderPlaced, { id: 'o-2', total: 2500 }, { key: 'customer-7' });
await bus.publish(OrderPlaced, { id: 'o-3', total: -1 }).catch((error) => console.log('refused', error.name));

await new Promise((resolve) => setTimeout(resolve, 200));
console.log(bus.stats());
await bus.close(); // waits for running handlers
