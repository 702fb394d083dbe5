// Errors of the client: what the gateway refused (with its code), and the local ones.

import { OmnibusError } from '../core/errors.js';

/** The gateway answered a request with an error frame; `code` is the protocol's error code. */
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
