// The order service: writes an order and its `order.placed` event in one transaction (the
// outbox), and confirms the order once inventory is reserved.
import type { Bus, Subscription } from '../../src/index.js';
import { HEADER } from '../../src/index.js';
import { inbox, type Outbox } from '../../src/outbox/index.js';
import type { Database } from './database.js';
import { InventoryReserved, OrderConfirmed, OrderPlaced, type Order } from './events.js';

export function orderService(db: Database, outbox: Outbox) {
  return {
    /** The order row and its event commit together or not at all; `correlationId` names the whole checkout. */
    async place(order: Order, correlationId: string): Promise<void> {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${db.schema}.orders VALUES ($1, $2, $3, $4, 'placed')`, [order.orderId, order.sku, order.quantity, order.total]);
        await outbox.enqueue(client, OrderPlaced, order, { key: order.orderId, headers: { [HEADER.correlationId]: correlationId } });
        await client.query('COMMIT');
        console.log(`order: placed ${order.orderId} (${order.quantity} ${order.sku}, ${order.total})`);
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },

    start(bus: Bus): Promise<Subscription> {
      return bus.subscribe(
        InventoryReserved,
        inbox({ pool: db.pool, consumer: 'order', schema: db.schema }, async (message, client) => {
          const { orderId } = message.data;
          await client.query(`UPDATE ${db.schema}.orders SET status = 'confirmed' WHERE id = $1`, [orderId]);
          // Inside a handler the outbox copies the correlation id and names this message as the cause.
          await outbox.enqueue(client, OrderConfirmed, { orderId });
          console.log(`order: confirmed ${orderId}`);
        }),
        { group: 'order' },
      );
    },
  };
}
