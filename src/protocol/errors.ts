// The protocol's error codes (docs/protocol.md, "Error codes") in one table: the HTTP status
// of each, and for a failure that is one of core's errors, the core code it carries and the
// error a client raises for it, so that a client's errors have the class and code the Bus's do.

import {
  ConfigurationError,
  InvalidPositionError,
  InvalidTopicError,
  NoRouteError,
  PayloadTooLargeError,
  PublishError,
  RefusedError,
  SerializationError,
  ValidationError,
  type OmnibusError,
} from '../core/errors.js';
import type { ErrorFrame } from './frames.js';

interface Row {
  /** The status of an HTTP answer with this code; codes only WebSocket frames carry have none. */
  http?: number;
  /** The code of the core error that travels as this wire code. */
  core?: string;
  /** The core error a client raises for this wire code: its class and its code are the Bus's. */
  raise?: (frame: ErrorFrame) => OmnibusError;
}

const ROWS = {
  BAD_FRAME: { http: 400 },
  UNKNOWN_TYPE: {},
  UNAUTHORIZED: { http: 401 },
  FORBIDDEN: { http: 403 },
  NOT_FOUND: { http: 404 },
  INVALID_TOPIC: { http: 400, core: 'INVALID_TOPIC', raise: (f) => new InvalidTopicError(f.message, undefined, { topic: f.topic }) },
  INVALID_POSITION: { http: 400, core: 'INVALID_POSITION', raise: (f) => new InvalidPositionError(f.message, { topic: f.topic }) },
  // The issues travel in the message only: they are the validator's objects, not JSON.
  VALIDATION_FAILED: { http: 400, core: 'VALIDATION_FAILED', raise: (f) => new ValidationError(f.message, [], { topic: f.topic }) },
  SERIALIZATION_FAILED: { http: 400, core: 'SERIALIZATION_FAILED', raise: (f) => new SerializationError(f.message, { topic: f.topic }) },
  NO_ROUTE: { http: 400, core: 'NO_ROUTE', raise: (f) => new NoRouteError(f.message, { topic: f.topic }) },
  PAYLOAD_TOO_LARGE: {
    http: 413,
    core: 'PAYLOAD_TOO_LARGE',
    // To a client the limit is the gateway's, whether the gateway or its driver set it.
    raise: (f) => new PayloadTooLargeError(f.bytes!, f.maxBytes!, { topic: f.topic, limitOf: 'the gateway' }),
  },
  /** A batch above `maxBatch`, an HTTP body above `maxFrameBytes`. */
  TOO_LARGE: { http: 413 },
  RATE_LIMITED: { http: 429 },
  TOO_MANY_CONNECTIONS: { http: 429 },
  TOO_MANY_SUBSCRIPTIONS: {},
  UNKNOWN_SUBSCRIPTION: {},
  DUPLICATE_SUBSCRIPTION: {},
  UNSUPPORTED: { http: 501, core: 'INVALID_CONFIGURATION', raise: (f) => new ConfigurationError(f.message, { topic: f.topic }) },
  PUBLISH_FAILED: { http: 502, core: 'PUBLISH_FAILED', raise: (f) => new PublishError(f.message, { topic: f.topic, retriable: f.retriable }) },
  /** The gateway's broker refused it (credentials, permissions, a missing database): not retriable. */
  REFUSED: { http: 502, core: 'REFUSED', raise: (f) => new RefusedError(f.message, { topic: f.topic }) },
  SUBSCRIBE_FAILED: {},
  // The gateway's bus closed. No ClosedError for it: to a client that means the client itself is closed.
  SHUTTING_DOWN: { http: 503, core: 'CLOSED' },
  /** Server-Sent Events only: the reader fell too far behind. */
  SLOW_CONSUMER: {},
  INTERNAL: {},
} satisfies Record<string, Row>;

export type ErrorCode = keyof typeof ROWS;

const CODES: Readonly<Record<ErrorCode, Row>> = ROWS;

const BY_CORE = new Map(
  Object.entries(CODES).flatMap(([wire, row]) => (row.core === undefined ? [] : [[row.core, wire as ErrorCode] as const])),
);

/**
 * The wire code a core error code travels as; undefined for one the request's own code
 * covers (a `ConnectionError` on a publish is `PUBLISH_FAILED`, on a subscribe `SUBSCRIBE_FAILED`).
 */
export function wireCode(coreCode: string): ErrorCode | undefined {
  return BY_CORE.get(coreCode);
}

/** The HTTP status of an answer with `code`. */
export function httpStatus(code: ErrorCode): number {
  return CODES[code].http ?? 500;
}

/** The core error a client raises for an error frame; undefined for the gateway's own codes. */
export function coreError(frame: ErrorFrame): OmnibusError | undefined {
  // `?.`: a newer gateway may send a code this table does not know.
  return CODES[frame.code]?.raise?.(frame);
}
