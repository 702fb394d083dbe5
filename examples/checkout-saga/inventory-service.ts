// The inventory service: reserves stock for each paid order, once per message id, and
// announces the reservation in the same transaction.
import type { Bus, Subscription } from '../../src/index.js';
import { inbox, type Outbox } from '../../src/outbox/index.js';
import type { Database } from './database.js';
import { InventoryReserved, PaymentCaptured } from './events.js';

export function inventoryService(db: Database, outbox: Outbox) {
  return {
    start(bus: Bus): Promise<Subscription> {
      return bus.subscribe(
        PaymentCaptured,
        inbox({ pool: db.pool, consumer: 'inventory', schema: db.schema }, async (message, client) => {
          const { orderId, sku, quantity } = message.data;
          const { rows } = await client.query(`UPDATE ${db.schema}.stock SET available = available - $2 WHERE sku = $1 RETURNING available`, [sku, quantity]);
          await outbox.enqueue(client, InventoryReserved, { orderId, sku, quantity });
          console.log(`inventory: reserved ${quantity} ${sku} for ${orderId}, ${rows[0].available} left`);
        }),
        { group: 'inventory' },
      );
    },
  };
}
