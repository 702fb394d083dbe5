import { after } from 'node:test';
import pg from 'pg';
import { postgres, withDefaultUser } from '../../src/drivers/postgres.js';
import { runConformance } from '../../src/testing/conformance.js';
import { brokerSkip } from '../support/broker.js';

const url = withDefaultUser(process.env.PG_URL ?? 'postgres://127.0.0.1:5432/test');
const skip = await brokerSkip({
  name: 'PostgreSQL',
  url,
  start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
});
// Every factory call is a fresh driver on one schema, so persistence cases can close and reopen.
const schema = `conformance_${process.pid}_${Date.now().toString(36)}`;

if (!skip) {
  after(async () => {
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  runConformance('postgres', () => postgres({ connectionString: url, schema, poolSize: 5 }));
}
