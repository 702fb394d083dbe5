// examples/checkout-saga runs as a user runs it, on the shared PostgreSQL: every order passes
// all four steps under one correlation id of its own, the payment redelivered after its lost
// ack is skipped rather than captured twice, and the run leaves no schema behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { it } from 'node:test';
import pg from 'pg';
import { PG_URL, postgresSkip } from '../support/postgres.js';

const run = promisify(execFile);
const STEPS = ['order.placed', 'payment.captured', 'inventory.reserved', 'order.confirmed'];

/** Drops `schema` if it exists; returns 1 if it did. */
async function dropSchema(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    return rowCount ?? 0;
  } finally {
    await client.end();
  }
}

it('examples/checkout-saga: one correlation id per order across the chain, and a redelivered payment handled once', { timeout: 60_000 }, async (t) => {
  const skip = await postgresSkip(); // with CI=true a PostgreSQL that is down throws here
  if (skip) return t.skip(skip);
  const { stdout, failure } = await run(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'examples/checkout-saga/main.ts')], {
    env: { ...process.env, PG_URL },
    timeout: 40_000,
  }).then(({ stdout }) => ({ stdout, failure: undefined }), (error: Error & { stdout?: string }) => ({ stdout: error.stdout ?? '', failure: error }));
  const lines = stdout.trim().split('\n');
  const schema = /^saga: working in schema (checkout_[0-9a-f]{8})$/.exec(lines[0])?.[1];
  try {
    assert.equal(failure, undefined, stdout);
    assert.ok(schema, stdout);

    const correlations = new Map<string, string>();
    for (const order of ['o-1', 'o-2', 'o-3']) {
      const steps = lines.map((line) => /^step (\S+) (\S+) correlation=(\S+)$/.exec(line)).filter((match) => match?.[2] === order) as RegExpExecArray[];
      assert.deepEqual(steps.map((step) => step[1]).sort(), [...STEPS].sort(), `${order} passes every step once:\n${stdout}`);
      assert.equal(new Set(steps.map((step) => step[3])).size, 1, `every step of ${order} carries one correlation id:\n${stdout}`);
      assert.match(steps[0][3], /^[0-9a-f-]{36}$/);
      correlations.set(order, steps[0][3]);
    }
    assert.equal(new Set(correlations.values()).size, 3, 'each order has its own correlation id');

    assert.ok(lines.includes('payment: o-1 again (attempt 2): already captured, skipped'), stdout);
    assert.equal(lines.filter((line) => line === 'payment: captured 30 for o-1').length, 1, 'the redelivered payment ran once');
    assert.equal(lines.at(-1), 'summary: 3 of 3 orders confirmed, 3 payments, stock gadget=4 widget=5', stdout);
    assert.equal(await dropSchema(schema), 0, 'the example drops its schema');
  } finally {
    if (schema) await dropSchema(schema);
  }
});
