// The outbox and inbox tables, as versioned migrations (component 'outbox' in the same
// migrations table the driver uses). docs/postgres.md describes each column.

import type { Migration } from '../drivers/postgres/index.js';

export const DEFAULT_SCHEMA = 'omnibus';

export const outboxMigrations: Migration[] = [
  {
    version: 1,
    name: 'outbox and inbox',
    sql: `
CREATE TABLE {schema}.outbox (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL,
  topic text NOT NULL,
  key text,
  headers jsonb NOT NULL DEFAULT '{}',
  data jsonb,
  bytes bytea,
  ttl_ms bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  failed_at timestamptz,
  error text
);
CREATE INDEX outbox_unsent ON {schema}.outbox (position) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_sent_at ON {schema}.outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE {schema}.inbox (
  consumer text NOT NULL,
  message_id text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_processed_at ON {schema}.inbox (processed_at);
`,
  },
];
