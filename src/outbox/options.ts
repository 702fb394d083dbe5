// Checks shared by the outbox, the relay and the inbox.

import { ConfigurationError } from '../core/errors.js';

const SCHEMA = /^[a-z_][a-z0-9_]{0,39}$/;

export function resolveSchema(schema: string): string {
  if (!SCHEMA.test(schema)) {
    throw new ConfigurationError(
      `outbox schema '${schema}' is not a plain lower-case identifier of at most 40 characters (letters, digits, '_')`,
    );
  }
  return schema;
}
