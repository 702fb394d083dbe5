// What an AWS SDK error from Kinesis means for a caller: the endpoint cannot be reached or is
// throttling us (retry), it refused us (credentials, a missing stream, limits), or the record
// itself is bad.

import type { OmnibusError } from '../../core/errors.js';
import { failure, type FailureKind } from '../../driver-kit/failure.js';

const REFUSED = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'LimitExceededException',
  'ValidationException',
  'InvalidArgumentException',
  'KMSAccessDeniedException',
]);

export function kindOf(error: unknown): FailureKind {
  const name = (error as { name?: unknown })?.name;
  if (typeof name === 'string' && REFUSED.has(name)) return 'refused';
  return 'connection';
}

/** The typed error for a failed Kinesis call about `topic`. */
export function kinesisFailure(error: unknown, what: string, topic: string | undefined): OmnibusError {
  const reason = (error as Error | undefined)?.message || (error as { name?: string })?.name || String(error);
  return failure(kindOf(error), `kinesis: ${what}: ${reason}`, { topic, cause: error });
}
