// One log line for each request or connection the gateway refuses (a bad token, a grant that
// does not cover the topic, too many connections), so an operator sees who was turned away.

import type { Logger } from '../core/logger.js';
import type { ErrorCode } from '../protocol/errors.js';

const REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAUTHORIZED', 'FORBIDDEN', 'TOO_MANY_CONNECTIONS']);

/** Who asked: the connection's id or the peer's address, the token's name, and over what. */
export interface Asker {
  client?: string;
  name?: string;
  address?: string;
  transport: 'websocket' | 'http' | 'upgrade';
  route?: string;
}

/** Logs `failure` at warn when it is a refusal; other failures are the client's to read. */
export function logRefusal(logger: Logger, failure: { code: ErrorCode; message: string; topic?: string }, asker: Asker): void {
  if (!REFUSALS.has(failure.code)) return;
  logger.warn({ ...asker, code: failure.code, topic: failure.topic, reason: failure.message }, 'refused');
}
