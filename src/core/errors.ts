// Every error Omnibus throws: one base class with a stable `code` users match on and a
// `retriable` flag the delivery machinery reads to decide between retrying and giving up.

export interface ErrorDetails {
  topic?: string;
  cause?: unknown;
}

export class OmnibusError extends Error {
  override name = 'OmnibusError';
  readonly code: string = 'OMNIBUS_ERROR';
  readonly retriable: boolean = false;
  readonly topic: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.topic = details.topic;
  }
}

/** A topic or pattern broke the grammar: tokens joined by `.`, letters, digits, `_`, `-`, `:`. */
export class InvalidTopicError extends OmnibusError {
  override name = 'InvalidTopicError';
  override readonly code = 'INVALID_TOPIC';
  constructor(
    message: string,
    readonly token: string | undefined,
    details: ErrorDetails = {},
  ) {
    super(message, details);
  }
}

/** One problem a Standard Schema validator reported. */
export interface ValidationIssue {
  message: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
}

/** A payload did not satisfy its event's schema; `issues` lists what the validator found. */
export class ValidationError extends OmnibusError {
  override name = 'ValidationError';
  override readonly code = 'VALIDATION_FAILED';
  constructor(
    message: string,
    readonly issues: ReadonlyArray<ValidationIssue>,
    details: ErrorDetails = {},
  ) {
    super(message, details);
  }
}

/** The driver could not accept a message. Retriable unless the message itself is the problem. */
export class PublishError extends OmnibusError {
  override name = 'PublishError';
  override readonly code: string = 'PUBLISH_FAILED';
  override readonly retriable: boolean;
  constructor(message: string, details: ErrorDetails & { retriable?: boolean } = {}) {
    super(message, details);
    this.retriable = details.retriable ?? true;
  }
}

/**
 * A message is larger than its driver's `maxPayloadBytes`; never retried. `limitOf` names
 * whose limit it broke when that is not the driver's: `'the gateway'` (its `maxMessageBytes`).
 */
export class PayloadTooLargeError extends PublishError {
  override name = 'PayloadTooLargeError';
  override readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
    details: ErrorDetails & { limitOf?: string } = {},
  ) {
    super(
      `message of ${bytes} bytes exceeds ${details.limitOf ?? 'the driver'}'s limit of ${maxBytes} bytes; ` +
        'split the payload or store it elsewhere and publish a reference',
      { ...details, retriable: false },
    );
  }
}

/** The broker cannot be reached, or the connection dropped. Retriable (a refusal is a `RefusedError`). */
export class ConnectionError extends OmnibusError {
  override name = 'ConnectionError';
  override readonly code = 'CONNECTION_FAILED';
  override readonly retriable = true;
}

/**
 * The broker refused the request and will refuse it again: credentials, permissions, a
 * missing database or stream, a command it does not allow. Not retriable: fix the cause.
 */
export class RefusedError extends OmnibusError {
  override name = 'RefusedError';
  override readonly code = 'REFUSED';
}

/** The bus, subscription or driver was closed before the call. */
export class ClosedError extends OmnibusError {
  override name = 'ClosedError';
  override readonly code = 'CLOSED';
}

/** A payload could not be encoded for the wire, or a received body could not be decoded. */
export class SerializationError extends OmnibusError {
  override name = 'SerializationError';
  override readonly code = 'SERIALIZATION_FAILED';
}

/** No route of a multi-driver bus accepts the topic; nothing was published. */
export class NoRouteError extends OmnibusError {
  override name = 'NoRouteError';
  override readonly code = 'NO_ROUTE';
}

/** Options or configuration that cannot work, named precisely. */
export class ConfigurationError extends OmnibusError {
  override name = 'ConfigurationError';
  override readonly code: string = 'INVALID_CONFIGURATION';
}

/** A `from` position the driver cannot read: a seq that is not one of its own, or a time that is no time. */
export class InvalidPositionError extends ConfigurationError {
  override name = 'InvalidPositionError';
  override readonly code = 'INVALID_POSITION';
}

/** Thrown by a handler (or `msg.reject`) to send a message to the dead-letter path at once. */
export class RejectedError extends OmnibusError {
  override name = 'RejectedError';
  override readonly code = 'REJECTED';
}

/** A request got no reply within its `timeoutMs`: no responder, or none answered in time. Retriable. */
export class TimeoutError extends OmnibusError {
  override name = 'TimeoutError';
  override readonly code = 'TIMEOUT';
  override readonly retriable = true;
  constructor(
    message: string,
    readonly timeoutMs: number,
    details: ErrorDetails = {},
  ) {
    super(message, details);
  }
}

/** The broker knows at once that nobody responds on the topic (NATS); retriable, as a responder may start. */
export class NoRespondersError extends OmnibusError {
  override name = 'NoRespondersError';
  override readonly code = 'NO_RESPONDERS';
  override readonly retriable = true;
}

/**
 * A responder's handler threw: `message` is its message, `remoteCode` its `code` (when it had
 * one) and `remoteName` its `name`, so a requester can match the failure without sharing classes.
 */
export class RemoteError extends OmnibusError {
  override name = 'RemoteError';
  override readonly code = 'REMOTE_ERROR';
  constructor(
    message: string,
    readonly remoteCode: string | undefined,
    readonly remoteName: string | undefined,
    details: ErrorDetails = {},
  ) {
    super(message, details);
  }
}

export function isRetriable(error: unknown): boolean {
  return error instanceof OmnibusError ? error.retriable : true;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
