import { after } from 'node:test';
import pg from 'pg';
import { postgres } from '../../src/drivers/postgres/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { PG_URL as url, postgresSkip } from '../support/postgres.js';
import { freePort } from '../support/private-server.js';

const skip = await postgresSkip();
// Every factory call is a fresh driver on one schema, so persistence cases can close and reopen.
const schema = `conformance_${process.pid}_${Date.now().toString(36)}`;

if (!skip) {
  after(async () => {
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  // A dedupe window short enough for the case that waits it out.
  runConformance('postgres', () => postgres({ connectionString: url, schema, poolSize: 5, dedupeWindowMs: 2_000 }), {
    unreachable: async () => postgres({ connectionString: `postgres://127.0.0.1:${await freePort()}/test`, schema }),
    refused: () => postgres({ connectionString: 'postgres://no_such_role@127.0.0.1:5432/test', schema }),
  });
}
