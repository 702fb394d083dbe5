// The services' own tables, in one schema per run that also holds the bus and the outbox,
// so runs never see each other's rows and dropping the schema removes everything.
import pg from 'pg';
import { withDefaultUser } from '../../src/drivers/postgres/index.js';

export interface Database {
  pool: pg.Pool;
  schema: string;
  /** Drops the run's schema and closes the pool. */
  close(): Promise<void>;
}

export async function openDatabase(connectionString: string, schema: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: withDefaultUser(connectionString) });
  await pool.query(`
    CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.orders (id text PRIMARY KEY, sku text NOT NULL, quantity int NOT NULL, total numeric NOT NULL, status text NOT NULL);
    CREATE TABLE ${schema}.payments (id text PRIMARY KEY, order_id text NOT NULL, amount numeric NOT NULL);
    CREATE TABLE ${schema}.stock (sku text PRIMARY KEY, available int NOT NULL CHECK (available >= 0));
    INSERT INTO ${schema}.stock VALUES ('widget', 10), ('gadget', 5);
  `);
  return {
    pool,
    schema,
    async close() {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await pool.end();
    },
  };
}
