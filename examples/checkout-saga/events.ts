// The saga's events, one schema each: publishing through the outbox validates against them,
// and each service's handler receives typed data.
import { z } from 'zod';
import { defineEvent } from '../../src/index.js';

const order = z.object({ orderId: z.string(), sku: z.string(), quantity: z.number().int().positive(), total: z.number().positive() });
export type Order = z.infer<typeof order>;

export const OrderPlaced = defineEvent('order.placed', order);
export const PaymentCaptured = defineEvent('payment.captured', order.extend({ paymentId: z.string() }));
export const InventoryReserved = defineEvent('inventory.reserved', z.object({ orderId: z.string(), sku: z.string(), quantity: z.number().int().positive() }));
export const OrderConfirmed = defineEvent('order.confirmed', z.object({ orderId: z.string() }));
