// The driver contract: what crosses the boundary between core and a broker. A driver maps
// these few byte-level operations onto its broker; retries, dead letters, codecs, schemas
// and stats stay in core.

/** Where a subscription starts: the oldest retained message, only new ones, a position or a time. */
export type From = 'earliest' | 'latest' | { seq: string } | { time: number | Date };

export interface Capabilities {
  /** Messages survive a restart of the process (and of the broker). */
  persistent: boolean;
  /** Competing consumers: `group` gives each message to one member. */
  groups: boolean;
  /** `from: 'earliest' | { seq } | { time }` replays retained messages. */
  replay: boolean;
  /** Publishing the same id twice within `dedupeWindowMs` stores it once; once the window has passed, it is stored again. */
  dedupe: boolean;
  /** With `dedupe`: how long a stored id is remembered, in ms (`DEFAULT_DEDUPE_WINDOW_MS` unless the driver's `dedupeWindowMs` option says otherwise). */
  dedupeWindowMs?: number;
  /** 'key': one key keeps publish order; 'global': every message does; 'none': no promise. */
  ordering: 'key' | 'global' | 'none';
  /** The broker matches `*`/`>` itself instead of core filtering. */
  nativeWildcards: boolean;
  /** The largest encoded body the driver accepts, in bytes. */
  maxPayloadBytes: number;
  /** The ack deadline redelivers a message its subscriber neither acked nor nacked in time. */
  ackDeadline: boolean;
  /**
   * `publish(…, { delayMs } | { deliverAt })` holds a message in the broker's own store until
   * it is due, surviving restarts where the driver is persistent; never timers holding messages.
   * Absent means no, so a driver written before this flag refuses delays instead of ignoring them.
   */
  delayedDelivery?: boolean;
}

/** How long drivers with `dedupe` remember an id unless told otherwise: 2 minutes, JetStream's duplicate window. */
export const DEFAULT_DEDUPE_WINDOW_MS = 120_000;

/** One message as a driver stores and returns it. */
export interface WireMessage {
  id: string;
  topic: string;
  headers: Record<string, string>;
  key?: string;
  /** Publish time, milliseconds since the epoch. */
  time: number;
  ttlMs?: number;
  /** The broker's position, opaque to core; set by the driver when it stores the message. */
  seq?: string;
  /** Set by `publish` when the id was stored within the dedupe window and this copy was not: `seq` is then the stored one's. */
  duplicate?: boolean;
  /**
   * Set by the bus when it made the id up for this publish: no copy can be stored yet, and no
   * retry of the publisher's can carry it (it learns the id once the publish resolved). A
   * driver may leave such ids out of its dedupe window, provided a resend of its own (after a
   * lost reply) cannot store one twice.
   */
  newId?: true;
  /** The encoded payload. Empty for drivers that carry values, which carry `value` instead. */
  body: Uint8Array;
  /** The payload itself, only for drivers that declare `carriesValues` (never encoded). */
  value?: unknown;
  /**
   * Milliseconds since the epoch before which the message must not be delivered; set only on
   * drivers with `delayedDelivery`, and only when it lies ahead. `time` is the same instant: a
   * delayed message counts as published when it comes due.
   */
  deliverAt?: number;
}

/**
 * A received message with the calls that settle it. Each may return nothing when it
 * completed synchronously (the in-process fast path) or a promise to wait on.
 */
export interface Delivery {
  readonly message: WireMessage;
  /** 1 on first delivery, +1 on each redelivery. */
  readonly attempt: number;
  ack(): void | Promise<void>;
  /** Redeliver, after `delayMs` (0 by default). */
  nack(delayMs?: number): void | Promise<void>;
  /** Extend the ack deadline for slow work. */
  inProgress(): void | Promise<void>;
  /** Settle without redelivery (core has already dead-lettered it). */
  reject(reason: string): void | Promise<void>;
}

export interface SubscribeSpec {
  pattern: string;
  group?: string;
  from?: From;
  /** How long a delivery may stay unsettled before the driver redelivers it. */
  ackDeadlineMs: number;
}

/**
 * Hands a delivery to core. A returned promise means the subscriber's buffer is full: the
 * driver waits for it before delivering more (for in-process drivers, the publisher waits).
 */
export type Deliver = (delivery: Delivery) => void | Promise<void>;

export interface DriverSubscription {
  /**
   * Stop delivering. Deliveries already handed over stay settle-able until the driver
   * closes; what is left unsettled is redelivered as the driver's semantics say.
   */
  close(): Promise<void>;
}

export type DriverEvent =
  | { type: 'connectionLost'; driver: string; error?: unknown }
  | { type: 'reconnected'; driver: string }
  | { type: 'error'; driver: string; error: unknown };

/** What `Driver.read` returns: retained messages, from a position. */
export interface ReadSpec {
  pattern: string;
  /** Where to start, inclusive. */
  from: Exclude<From, 'latest'>;
}

/** Which group's lag `Driver.lag` reports: the group as subscribed on that pattern. */
export interface LagSpec {
  pattern: string;
  group: string;
}

/**
 * Native request/reply, for brokers that have it (NATS): requests and replies travel outside
 * what the driver stores. Drivers without it get core's generic path (a `reply-to` header and
 * one inbox topic per bus), so a driver adds this only where the broker does better.
 */
export interface RequestTransport {
  /**
   * Sends `request` and resolves with the first reply. Rejects with `TimeoutError` after
   * `timeoutMs`, and with `NoRespondersError` where the broker knows at once that nobody listens.
   */
  request(request: WireMessage, timeoutMs: number): Promise<WireMessage>;
  /** Like `Driver.subscribe`, for requests only: each delivered request's `reply-to` header is the address `reply` takes. */
  subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription>;
  reply(to: string, reply: WireMessage): void | Promise<void>;
}

export interface Driver {
  readonly name: string;
  readonly capabilities: Capabilities;
  /**
   * The driver carries payloads as they are (`value`), never as bytes: the memory driver,
   * and the gateway's, whose frames hold JSON. Core then skips encoding. Default false.
   */
  readonly carriesValues?: boolean;
  /** Resolves when the broker accepted every message (persisted, if persistent). Sets `seq`. */
  publish(batch: WireMessage[]): Promise<void>;
  subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription>;
  /**
   * Retained messages matching `spec.pattern`, oldest first, from `spec.from` up to the newest
   * one stored when the call was made: a snapshot, which messages published meanwhile cannot
   * prolong. Read in chunks, so a caller that stops early (`break`) holds little. A bad
   * position throws `InvalidPositionError`. Optional, for drivers with `replay`: history reads
   * without it go through a subscription.
   */
  read?(spec: ReadSpec): AsyncIterable<WireMessage>;
  /**
   * How many messages matching `spec.pattern` the broker holds that `spec.group` has not yet
   * acknowledged: those not yet delivered plus those delivered and unsettled. Optional, for
   * drivers that can tell: the bus leaves groups on a driver without it out of its lag
   * figures. A broker that cannot answer rejects, with a typed error saying why.
   */
  lag?(spec: LagSpec): Promise<number>;
  /** Native request/reply. Optional: without it, `bus.request` and `bus.respond` use publish and subscribe. */
  readonly requests?: RequestTransport;
  /** Reports connection changes and background errors to the bus. */
  observe?(listener: (event: DriverEvent) => void): void;
  /**
   * Connects now (otherwise the first publish or subscribe does); resolves once connected,
   * rejects with a typed error saying why not. `bus.health()` calls it. Optional: a driver
   * without it has nothing to connect to.
   */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Declares a driver factory: the identity function that checks it makes a `Driver` and keeps
 * the driver's own type, with whatever it offers beyond the contract.
 */
export function defineDriver<Factory extends (...options: never[]) => Driver>(factory: Factory): Factory {
  return factory;
}
