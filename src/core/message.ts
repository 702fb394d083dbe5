// The message a handler receives and the options a publisher gives, as users see them.

export type Headers = Record<string, string>;

export interface PublishOptions {
  /** The de-duplication key. Default: a new UUIDv7. */
  id?: string;
  /** Ordering key: messages with one key are delivered in publish order. */
  key?: string;
  headers?: Headers;
  /** Drop the message if it is not delivered within this many milliseconds. */
  ttlMs?: number;
  /**
   * Deliver no earlier than this many milliseconds from now. The message is stored at once and
   * counts as published when due: its `time`, `seq` and `ttlMs` start then, and subscriptions
   * live then receive it. Needs a driver with `delayedDelivery`. Default: deliver now.
   */
  delayMs?: number;
  /** Deliver no earlier than this moment (a past one delivers now); as `delayMs`, which it excludes. */
  deliverAt?: Date;
}

export interface PublishResult {
  id: string;
  /** The driver's position for the stored message, where it has one; none yet for a delayed message. */
  seq?: string;
  /** The id was stored within the driver's dedupe window, so this publish stored nothing: `seq` is the stored message's. */
  duplicate?: true;
}

/** A message as the broker keeps it; `bus.read()` returns these. */
export interface StoredMessage<T = unknown> {
  readonly id: string;
  /** The concrete topic it was published on. */
  readonly topic: string;
  readonly data: T;
  readonly headers: Readonly<Headers>;
  readonly key?: string | undefined;
  /** Publish time, milliseconds since the epoch. */
  readonly time: number;
  readonly ttlMs?: number | undefined;
  readonly seq?: string | undefined;
}

/** A delivered message, with the calls that settle it. */
export interface Message<T = unknown> extends StoredMessage<T> {
  /** 1 on first delivery, +1 on each redelivery. */
  readonly attempt: number;
  ack(): Promise<void>;
  /** Redeliver after `delayMs` (default: the subscription's backoff for this attempt). */
  nack(options?: { delayMs?: number }): Promise<void>;
  /** Extend the ack deadline for slow work. */
  inProgress(): Promise<void>;
  /** No retry: dead-letter now. */
  reject(reason: string): Promise<void>;
}

/** Headers Omnibus itself sets. */
export const HEADER = {
  contentType: 'content-type',
  correlationId: 'correlation-id',
  causationId: 'causation-id',
  traceparent: 'traceparent',
  originalTopic: 'x-original-topic',
  originalId: 'x-original-id',
  error: 'x-error',
  attempts: 'x-attempts',
  /** The topics a dead letter failed on, comma-separated, oldest first: it never goes back to one. */
  deadLetterPath: 'x-dead-letter-path',
  /** The `id` of the bus that mirrored a message to a broker: that bus's subscribers skip the copy. */
  origin: 'omnibus-origin',
} as const;
