// `omnibus outbox relay` as an operator runs it: a real process relaying committed outbox
// rows from Postgres to the bus its configuration names (here a SQLite file).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Bus } from '../../src/core/bus.js';
import { withDefaultUser } from '../../src/drivers/postgres/options.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { createOutbox } from '../../src/outbox/index.js';
import { eventually } from '../../src/testing/wait.js';
import { brokerSkip } from '../support/broker.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url).pathname;
const PG_URL = process.env.PG_URL ?? 'postgres://127.0.0.1:5432/test';
const skip = await brokerSkip({
  name: 'PostgreSQL',
  url: PG_URL,
  start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
});

describe('omnibus outbox relay', { skip }, () => {
  const schema = `relay${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-relay-'));
  const pool = new pg.Pool({ connectionString: withDefaultUser(PG_URL) });
  const outbox = createOutbox({ schema });
  before(() => outbox.migrate(pool));
  after(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes committed rows in order, nothing from a rolled-back transaction, and stops on SIGTERM', async () => {
    const db = join(dir, 'bus.db');
    const relay = spawn(process.execPath, ['--import', TSX, CLI, 'outbox', 'relay', '--database', PG_URL, '--schema', schema], {
      env: { ...process.env, OMNIBUS_URL: `sqlite:${db}` },
    });
    let log = '';
    relay.stderr!.on('data', (chunk) => (log += chunk));
    const exited = new Promise<number | null>((resolve) => relay.once('exit', resolve));
    const bus = new Bus({ drivers: { sqlite: sqlite({ path: db }) } });
    try {
      await eventually(() => log.includes('relaying the outbox'), 'the relay to start', 15_000);
      const received: unknown[] = [];
      await bus.subscribe('shop.>', (message) => void received.push(message.data), { from: 'earliest' });

      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (let n = 1; n <= 3; n++) await outbox.enqueue(client, 'shop.orders.placed', { n });
        await client.query('COMMIT');
        await client.query('BEGIN');
        await outbox.enqueue(client, 'shop.orders.placed', { n: 'rolled back' });
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        await outbox.enqueue(client, 'shop.orders.shipped', { n: 4 });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await eventually(() => received.length >= 4, 'the committed events', 15_000);
      assert.deepEqual(received, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
      relay.kill('SIGTERM');
      assert.equal(await exited, 0, log);
      assert.match(log, /stopped after relaying 4 message/);
    } finally {
      relay.kill('SIGKILL');
      await bus.close();
    }
  });
});
