import { z } from 'zod';
import { createBus, defineEvent } from 'omnibus';

const OrderPlaced = defineEvent('orders.placed', z.object({ id: z.string(), total: z.number().positive() }));
const bus = createBus(); // in-memory; see createBusFromConfig() below

async function charge(id: string, total: number): Promise<void> {
  console.log(`charged ${id}: ${total}`); // your payment call
}

await bus.subscribe('orders.*', (msg) => console.log(msg.topic, msg.data)); // every message
await bus.subscribe(OrderPlaced, async (msg) => {           // typed by the schema
  await charge(msg.data.id, msg.data.total);                 // throw -> retried with backoff
}, { group: 'billing', maxAttempts: 5, deadLetter: 'dead.orders' });
const audit = bus.stream('orders.>', { group: 'audit' });    // an async iterator
await audit.started();

await bus.publish(OrderPlaced, { id: 'o-1', total: 25 }, { key: 'customer-7' });
await bus.publish(OrderPlaced, { id: 'o-2', total: -1 })     // refused before it is sent
  .catch((error) => console.log('refused:', error.name));    // ValidationError

for await (const msg of audit) {
  console.log('audited', msg.data);
  await msg.ack();
  break; // a real consumer keeps going; this one stops after the first message
}
await bus.close(); // stops intake, waits for running handlers, closes drivers
