// Versioned migrations, applied in order on start under an advisory lock so that several
// processes starting at once upgrade the schema exactly once. Shared by the driver and the outbox.

import type { Pool } from 'pg';
import { ConfigurationError } from '../../core/errors.js';
import { checkout } from './checkout.js';

export interface Migration {
  version: number;
  name: string;
  /** Statements with `{schema}` standing for the quoted schema name. */
  sql: string;
}

/** Advisory-lock namespace for everything Omnibus locks (`hashtext('omnibus')`-sized, fixed). */
export const LOCK_NAMESPACE = 0x6f6d6e69;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function withSchema(sql: string, schema: string): string {
  return sql.replaceAll('{schema}', quoteIdent(schema)).replaceAll('{schema_literal}', `'${schema}'`);
}

/**
 * Brings `component`'s tables in `schema` up to the last migration. With `apply: false` it
 * only checks, and fails naming what is missing.
 */
export async function migrate(pool: Pool, schema: string, component: string, migrations: Migration[], apply = true): Promise<void> {
  const latest = migrations[migrations.length - 1].version;
  let failed: unknown;
  const lost = (error: Error) => void (failed ??= error);
  const client = await checkout(pool, lost);
  try {
    if (!apply) {
      const found = await client.query(
        `SELECT coalesce(max(version), 0) AS version FROM ${quoteIdent(schema)}.migrations WHERE component = $1`,
        [component],
      ).catch(() => ({ rows: [{ version: 0 }] }));
      const version = Number(found.rows[0].version);
      refuseNewer(schema, component, version, latest);
      if (version < latest) {
        throw new ConfigurationError(
          `PostgreSQL schema '${schema}' is at ${component} migration ${version}, this version of Omnibus needs ${latest}; ` +
            'start once with migrate: true (or apply docs/postgres.md by hand)',
        );
      }
      return;
    }
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, `migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.migrations (
         component text NOT NULL,
         version integer NOT NULL,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (component, version))`,
    );
    const found = await client.query(
      `SELECT coalesce(max(version), 0) AS version FROM ${quoteIdent(schema)}.migrations WHERE component = $1`,
      [component],
    );
    const current = Number(found.rows[0].version);
    refuseNewer(schema, component, current, latest);
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(withSchema(migration.sql, schema));
      await client.query(`INSERT INTO ${quoteIdent(schema)}.migrations (component, version, name) VALUES ($1, $2, $3)`, [
        component,
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    failed = error;
    if (apply) await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.off('error', lost);
    client.release(failed !== undefined && !(failed instanceof ConfigurationError) ? (failed as Error) : undefined);
  }
}

/** A schema migrated by a newer Omnibus may hold what this version would misread: a rollback of the code alone. */
function refuseNewer(schema: string, component: string, version: number, latest: number): void {
  if (version <= latest) return;
  throw new ConfigurationError(
    `PostgreSQL schema '${schema}' is at ${component} migration ${version}, newer than this version of Omnibus knows (${latest}); ` +
      'run the Omnibus version that migrated it, or a newer one',
  );
}
