// The payment service: captures each placed order's total once, however often the order
// arrives. To show that, the first delivery of `crashOnce` loses its ack after the payment
// committed, as a process killed at that moment would; the redelivery finds it in the inbox.
import { randomUUID } from 'node:crypto';
import type { Bus, Message, Subscription } from '../../src/index.js';
import { inbox, type Outbox } from '../../src/outbox/index.js';
import type { Database } from './database.js';
import { OrderPlaced, PaymentCaptured, type Order } from './events.js';

export function paymentService(db: Database, outbox: Outbox, crashOnce: string) {
  const ran = new WeakSet<Message>();
  let skipped!: () => void;
  const duplicateSkipped = new Promise<void>((resolve) => (skipped = resolve));
  const capture = inbox<Order>(
    { pool: db.pool, consumer: 'payment', schema: db.schema },
    async (message, client) => {
      ran.add(message);
      const order = message.data;
      const paymentId = randomUUID(); // a fresh id, so only the inbox stands between a redelivery and a second payment
      await client.query(`INSERT INTO ${db.schema}.payments VALUES ($1, $2, $3)`, [paymentId, order.orderId, order.total]);
      await outbox.enqueue(client, PaymentCaptured, { ...order, paymentId });
      console.log(`payment: captured ${order.total} for ${order.orderId}`);
    },
  );
  return {
    /** Resolves once a redelivered order was recognised and skipped. */
    duplicateSkipped,
    start(bus: Bus): Promise<Subscription> {
      return bus.subscribe(OrderPlaced, async (message) => {
        await capture(message);
        if (!ran.has(message)) {
          console.log(`payment: ${message.data.orderId} again (attempt ${message.attempt}): already captured, skipped`);
          skipped();
        }
        if (message.data.orderId === crashOnce && message.attempt === 1) {
          throw new Error(`simulated crash after capturing ${crashOnce}, before the ack`);
        }
      }, { group: 'payment' });
    },
  };
}
