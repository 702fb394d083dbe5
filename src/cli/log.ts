// The logs of `omnibus serve`: pino JSON lines on stdout (or pino-pretty's lines with
// --pretty), with secrets kept out: redacted fields, and passwords scrubbed from any URL.

import { pino, type Logger as Pino } from 'pino';
import pretty from 'pino-pretty';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Fields that hold secrets wherever they appear in a line: API keys, JWT keys, tokens, passwords. */
const REDACT = [
  'config.gateway.auth.apiKeys[*].key',
  'config.gateway.auth.jwt.secret',
  'config.gateway.auth.jwt.publicKey',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
];

/** `scheme://user:password@host` → `scheme://user:[redacted]@host`, in any string of a line. */
export function scrubUrlPasswords(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@"]*):[^\s/@"]*@/gi, '$1:[redacted]@');
}

/** The serve logger at `level`, writing synchronously so the last lines before exit are kept. */
export function serveLogger(options: { level: LogLevel; pretty: boolean }): Pino {
  const destination = options.pretty ? pretty({ sync: true, destination: 1 }) : pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level,
      base: { name: 'omnibus' },
      redact: { paths: REDACT, censor: '[redacted]' },
      hooks: { streamWrite: scrubUrlPasswords },
    },
    destination,
  );
}
