// A checkout saga on one bus over PostgreSQL: order, payment and inventory services, each its
// own consumer group, pass an order along order.placed → payment.captured → inventory.reserved
// → order.confirmed. Every service writes its state and its next event in one transaction
// (the outbox, relayed to the bus) and handles each message once (the inbox), so the payment
// that is redelivered after a lost ack is not captured twice. One correlation id per order
// follows the whole chain; each step prints it.
//   npx tsx examples/checkout-saga/main.ts   (needs PostgreSQL: PG_URL, default postgres://127.0.0.1:5432/test)
// Each run works in a fresh schema (bus, outbox and the services' tables) and drops it at the end.
import { randomUUID } from 'node:crypto';
import { createBus, HEADER } from '../../src/index.js';
import { defaultConnectionString, postgres } from '../../src/drivers/postgres/index.js';
import { createOutbox, relayOutbox } from '../../src/outbox/index.js';
import { openDatabase } from './database.js';
import { OrderConfirmed, type Order } from './events.js';
import { inventoryService } from './inventory-service.js';
import { orderService } from './order-service.js';
import { paymentService } from './payment-service.js';

const connectionString = process.env.PG_URL ?? defaultConnectionString();
const schema = `checkout_${randomUUID().slice(0, 8)}`;
const db = await openDatabase(connectionString, schema);
console.log(`saga: working in schema ${schema}`);
const bus = createBus({ driver: postgres({ connectionString, schema }) });
const outbox = createOutbox({ schema });
await outbox.migrate(db.pool);
const relay = relayOutbox({ pool: db.pool, bus, schema });

const orders: Order[] = [
  { orderId: 'o-1', sku: 'widget', quantity: 2, total: 30 },
  { orderId: 'o-2', sku: 'gadget', quantity: 1, total: 25 },
  { orderId: 'o-3', sku: 'widget', quantity: 3, total: 45 },
];

// An observer outside the saga (no group: it sees every message) prints each step.
const confirmed = new Set<string>();
let allConfirmed!: () => void;
const done = new Promise<void>((resolve) => (allConfirmed = resolve));
await bus.subscribe('>', (message) => {
  const { orderId } = message.data as { orderId: string };
  console.log(`step ${message.topic} ${orderId} correlation=${message.headers[HEADER.correlationId]}`);
  if (message.topic === OrderConfirmed.topic && confirmed.add(orderId).size === orders.length) allConfirmed();
});

const order = orderService(db, outbox);
await order.start(bus);
const payment = paymentService(db, outbox, 'o-1');
await payment.start(bus);
await inventoryService(db, outbox).start(bus);
for (const placed of orders) await order.place(placed, randomUUID()); // e.g. the checkout request's id

// Whatever happens next, the run's schema is dropped (db.close) before the process ends.
let timeout: ReturnType<typeof setTimeout> | undefined;
try {
  const late = new Promise<never>((_, reject) => {
    timeout = setTimeout(() => reject(new Error(`only ${confirmed.size} of ${orders.length} orders confirmed after 20 s`)), 20_000);
  });
  await Promise.race([Promise.all([done, payment.duplicateSkipped]), late]);

  const { rows: [summary] } = await db.pool.query(`SELECT
    (SELECT count(*) FROM ${schema}.orders WHERE status = 'confirmed') AS confirmed,
    (SELECT count(*) FROM ${schema}.payments) AS payments,
    (SELECT string_agg(sku || '=' || available, ' ' ORDER BY sku) FROM ${schema}.stock) AS stock`);
  console.log(`summary: ${summary.confirmed} of ${orders.length} orders confirmed, ${summary.payments} payments, stock ${summary.stock}`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  clearTimeout(timeout);
  await relay.close();
  await bus.close();
  await db.close();
}
