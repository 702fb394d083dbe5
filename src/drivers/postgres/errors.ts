// Tells a lost or refused connection apart from a bad statement, and words both so the
// reader knows what to fix: the address, the credentials, or the data.

import { ConnectionError, OmnibusError, PublishError } from '../../core/errors.js';
import { failure } from '../../driver-kit/failure.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting or stopping).
const SERVER_GONE = new Set(['57P01', '57P02', '57P03']);
const LOST_MESSAGES = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed|Connection terminated unexpectedly/i;

function code(error: unknown): string | undefined {
  const value = (error as { code?: unknown } | null)?.code;
  return typeof value === 'string' ? value : undefined;
}

/** Whether the error means the server went away or could not be reached (worth retrying). */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  const c = code(error);
  if (c !== undefined && (NETWORK_CODES.has(c) || SERVER_GONE.has(c) || c.startsWith('08'))) return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionLoss);
  return error instanceof Error && LOST_MESSAGES.test(error.message);
}

/** Whether the server refused who we are or where we asked to go: credentials, role or database. */
export function isRefusal(error: unknown): boolean {
  const c = code(error);
  return c !== undefined && (c.startsWith('28') || c === '3D000');
}

/** The address without its password, for messages. */
export function redact(connection: string): string {
  try {
    const url = new URL(connection);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return connection;
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  return error instanceof Error ? error.message : String(error);
}

/** A ConnectionError (or, for a refused role or database, a RefusedError) saying where we tried to go and what to check. */
export function connectionError(error: unknown, where: string, topic?: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  // Trying again cannot make a role or a database exist.
  if (isRefusal(error)) {
    const hint = 'check the user, password and database in connectionString (or PGUSER/PGPASSWORD/PGDATABASE)';
    return failure('refused', `PostgreSQL at ${where} refused us: ${describe(error)}; ${hint}`, { cause: error, topic });
  }
  const hint = 'check that the server is running and that connectionString (or PGHOST/PGPORT) points to it';
  return failure('connection', `cannot use PostgreSQL at ${where}: ${describe(error)}; ${hint}`, { cause: error, topic });
}

/** Maps a failed publish onto the error core expects. */
export function publishError(error: unknown, where: string, topic: string | undefined): Error {
  if (isConnectionLoss(error) || isRefusal(error)) return connectionError(error, where, topic);
  // Class 22 (data exception) and 23 (constraint) mean this message can never be stored as is.
  const c = code(error);
  const message = `PostgreSQL did not store the message on '${topic}': ${describe(error)}`;
  if (c !== undefined && (c.startsWith('22') || c.startsWith('23'))) return failure('bad-data', message, { cause: error, topic });
  return new PublishError(message, { cause: error, topic });
}
