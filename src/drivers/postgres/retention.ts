// Retention, TTL expiry and clean-up in one transaction, by one process at a time: the others
// find the advisory lock taken and skip their turn. Then that process forgets the ids past their
// dedupe window, in bounded chunks that each commit alone, so no publish waits on a long delete.

import type { Pool } from 'pg';
import { LOCK_NAMESPACE } from './migrate.js';
import type { ResolvedOptions } from './options.js';
import { forgetIdsStatement, retentionStatements } from './queries.js';

/** Ids one statement forgets; another follows while one forgets as many. */
const FORGET_CHUNK = 10_000;

export async function applyRetention(pool: Pool, options: ResolvedOptions): Promise<void> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    const { rows } = await client.query('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS mine', [LOCK_NAMESPACE, `retention:${options.schema}`]);
    const mine = rows[0].mine === true;
    if (mine) {
      for (const statement of retentionStatements(options.schema, options)) await client.query(statement);
    }
    await client.query('COMMIT');
    if (!mine) return;
    const forget = forgetIdsStatement(options.schema, FORGET_CHUNK);
    for (;;) {
      const { rowCount } = await client.query(forget);
      if (rowCount !== FORGET_CHUNK) break;
    }
  } catch (error) {
    failed = error as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release(failed);
  }
}
