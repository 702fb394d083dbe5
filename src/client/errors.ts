// Errors of the client: what the gateway refused for reasons of its own (with its code), and
// the local ones. A failure that is one of the Bus's errors (InvalidTopicError,
// PayloadTooLargeError, PublishError, ...) comes as that error, as on the Bus (src/protocol/errors.ts).

import { OmnibusError } from '../core/errors.js';

/** The gateway refused a request for a reason of its own (auth, grants, limits, the protocol); `code` is the protocol's error code. */
export class GatewayError extends OmnibusError {
  override name = 'GatewayError';
  override readonly code: string;
  override readonly retriable: boolean;
  constructor(code: string, message: string, details: { topic?: string; retriable?: boolean } = {}) {
    super(message, { topic: details.topic });
    this.code = code;
    this.retriable = details.retriable ?? false;
  }
}

/** The offline publish buffer is full: the gateway has been unreachable for too long. */
export class BufferFullError extends OmnibusError {
  override name = 'BufferFullError';
  override readonly code = 'BUFFER_FULL';
  override readonly retriable = true;
}
