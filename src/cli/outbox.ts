// `omnibus outbox relay`: publishes the committed rows of an application's Postgres outbox
// to the bus that omnibus.config.json / OMNIBUS_URL names, until SIGTERM/SIGINT.

import { createBusFromConfig } from '../config/index.js';
import { withDefaultUser } from '../drivers/postgres/index.js';
import { relayOutbox } from '../outbox/relay.js';

export interface RelayCommandOptions {
  database: string;
  schema?: string;
  config?: string;
  batchSize?: string;
}

export async function relay(options: RelayCommandOptions): Promise<void> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: withDefaultUser(options.database), max: 2 });
  const bus = await createBusFromConfig({ path: options.config });
  const running = relayOutbox({
    pool,
    bus,
    schema: options.schema,
    batchSize: options.batchSize === undefined ? undefined : Number(options.batchSize),
    onError: (error) => console.error(`omnibus outbox relay: ${(error as Error).message ?? error}`),
  });
  try {
    await running.ready;
  } catch (error) {
    await Promise.allSettled([running.close(), bus.close(), pool.end()]);
    throw error;
  }
  const driver = bus.drivers.map((entry) => entry.name).join(', ');
  console.error(`relaying the outbox in schema '${options.schema ?? 'omnibus'}' to ${driver}; stop with Ctrl-C`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  await bus.close();
  await pool.end();
  console.error(`stopped after relaying ${running.relayed} message(s)`);
}
