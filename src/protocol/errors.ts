// The protocol's error codes (docs/protocol.md, "Error codes") in one table: the HTTP status
// of each, and for a failure that is one of core's errors, the core code it carries.

interface Row {
  /** The status of an HTTP answer with this code; codes only WebSocket frames carry have none. */
  http?: number;
  /** The code of the core error that travels as this wire code. */
  core?: string;
}

const ROWS = {
  BAD_FRAME: { http: 400 },
  UNKNOWN_TYPE: {},
  UNAUTHORIZED: { http: 401 },
  FORBIDDEN: { http: 403 },
  NOT_FOUND: { http: 404 },
  INVALID_TOPIC: { http: 400, core: 'INVALID_TOPIC' },
  INVALID_POSITION: { http: 400, core: 'INVALID_POSITION' },
  /** A payload above `maxMessageBytes` or the driver's limit, a batch above `maxBatch`, an HTTP body above `maxFrameBytes`. */
  TOO_LARGE: { http: 413, core: 'PAYLOAD_TOO_LARGE' },
  RATE_LIMITED: { http: 429 },
  TOO_MANY_CONNECTIONS: { http: 429 },
  TOO_MANY_SUBSCRIPTIONS: {},
  UNKNOWN_SUBSCRIPTION: {},
  DUPLICATE_SUBSCRIPTION: {},
  UNSUPPORTED: { http: 501, core: 'INVALID_CONFIGURATION' },
  PUBLISH_FAILED: { http: 502 },
  SUBSCRIBE_FAILED: {},
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
