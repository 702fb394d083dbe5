// What a @platformatic/kafka error means for a caller: the broker is unreachable (retry),
// it refused us (credentials, ACLs, a missing topic), or the message itself is bad.

import type { OmnibusError } from '../../core/errors.js';
import { failure, type FailureKind } from '../../driver-kit/failure.js';

/** Every code in an error and what it wraps: the client's `PLT_KFK_*` and Kafka's own (`apiId`). */
export function codes(error: unknown, into = new Set<string>(), depth = 0): Set<string> {
  if (typeof error !== 'object' || error === null || depth > 6) return into;
  const { code, apiId, errors, cause } = error as { code?: unknown; apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string') into.add(code);
  if (typeof apiId === 'string') into.add(apiId);
  if (Array.isArray(errors)) for (const inner of errors) codes(inner, into, depth + 1);
  if (cause !== undefined) codes(cause, into, depth + 1);
  return into;
}

const REFUSED = /AUTHORIZATION_FAILED|SASL|AUTHENTICATION|UNKNOWN_TOPIC_OR_PARTITION|INVALID_TOPIC_EXCEPTION|POLICY_VIOLATION|UNSUPPORTED_VERSION|INVALID_REPLICATION_FACTOR|INVALID_PARTITIONS|INVALID_CONFIG/;
const BAD_DATA = /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|CORRUPT_MESSAGE|INVALID_RECORD|INVALID_TIMESTAMP/;

export function kindOf(error: unknown): FailureKind {
  const all = [...codes(error)].join(' ');
  if (BAD_DATA.test(all)) return 'bad-data';
  if (REFUSED.test(all) || all.includes('PLT_KFK_AUTHENTICATION')) return 'refused';
  return 'connection';
}

/** The message of the innermost error that says something, for our own messages. */
export function reason(error: unknown): string {
  let current = error as { message?: string; errors?: unknown[]; cause?: unknown } | undefined;
  let text = String((current as Error | undefined)?.message ?? error);
  for (let depth = 0; depth < 6 && current !== undefined; depth++) {
    const inner = (Array.isArray(current.errors) && current.errors[0]) || current.cause;
    if (typeof inner !== 'object' || inner === null) break;
    current = inner as typeof current;
    if (typeof current.message === 'string' && current.message !== '') text = current.message;
  }
  return text;
}

/** The typed error for a failed Kafka call about `topic`. */
export function kafkaFailure(error: unknown, what: string, topic: string | undefined): OmnibusError {
  return failure(kindOf(error), `kafka: ${what}: ${reason(error)}`, { topic, cause: error });
}
