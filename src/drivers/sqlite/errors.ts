// Turns SQLite's error codes into Omnibus errors that say what happened and what to do.

import { ConfigurationError, ConnectionError, OmnibusError, PublishError } from '../../core/errors.js';

/** What the driver was doing: publishes fail with PublishError, everything else with ConnectionError. */
export type Action = 'publish' | 'open' | 'settle' | 'read';

export function sqliteError(error: unknown, action: Action, file: string, topic?: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const code = String((error as { code?: unknown })?.code ?? '');
  const detail = (error as Error)?.message ?? String(error);
  const details = { cause: error, topic };
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    const message = `${file} is not a readable Omnibus database (${detail}); restore it from a backup or point the driver at a new path`;
    return action === 'publish' ? new PublishError(message, { ...details, retriable: false }) : new ConfigurationError(message, details);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    const message = `${file} cannot be written (${detail}); make the file and its directory writable by this process`;
    return action === 'publish' ? new PublishError(message, { ...details, retriable: false }) : new ConfigurationError(message, details);
  }
  // better-sqlite3 checks the directory itself, with a plain TypeError.
  if (code.startsWith('SQLITE_CANTOPEN') || /directory does not exist/.test(detail)) {
    return new ConfigurationError(`cannot open ${file} (${detail}); check that its directory exists and is writable`, details);
  }
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) {
    const what = code === 'SQLITE_FULL' ? 'the disk is full' : 'writing failed (a full disk, a file size limit or an I/O error)';
    const message = `${what} on ${file} (${detail}); nothing of this transaction was stored; free space and retry`;
    return action === 'publish' ? new PublishError(message, details) : new ConnectionError(message, details);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    const message = `${file} stayed locked by another process (${detail}); retry, or raise busyTimeoutMs`;
    return action === 'publish' ? new PublishError(message, details) : new ConnectionError(message, details);
  }
  const message = `SQLite failed on ${file} while trying to ${action} (${detail})`;
  return action === 'publish' ? new PublishError(message, details) : new ConnectionError(message, details);
}
