// A subscription's flow: a bounded buffer with block/drop/timeout backpressure, concurrency
// with per-key order, and auto or manual acks. What happens to a failed message is the
// failure policy's (failure-policy.ts); when handlers start is also the circuit breaker's
// (circuit-breaker.ts). Drivers only hand over deliveries and settle them.

import type { BackoffOptions } from './backoff.js';
import type { BusEventEmitter } from './bus-events.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitTally } from './circuit-breaker.js';
import { decodePayload, type Codec } from './codec.js';
import { isAsyncFunction, runHandling } from './context.js';
import type { Delivery, DriverSubscription, From, WireMessage } from './driver.js';
import { check, type EventDefinition, type Validated } from './event.js';
import { FailurePolicy } from './failure-policy.js';
import { HEADER, type Message } from './message.js';
import { Queue } from './queue.js';
import { ReceivedMessage, settleQuietly, type Settling } from './received-message.js';
import type { Counters } from './stats.js';
import type { Tracing } from './tracing.js';

export interface SubscribeOptions {
  /** Competing consumers: each message goes to one member of the group. Default: none (fan-out). */
  group?: string;
  /** Where to start, on drivers that keep history. Default 'latest'. */
  from?: From;
  /** 'auto': resolving acks, throwing retries. 'manual': the handler settles. Default 'auto'. */
  ack?: 'auto' | 'manual';
  /** Handlers running at once; one key still runs one at a time. Default 1. */
  concurrency?: number;
  /** Deliveries before a failing message is dead-lettered. Default 5. */
  maxAttempts?: number;
  /** Delay between retries. Default `{ initialMs: 100, maxMs: 30_000 }` with jitter. */
  backoff?: BackoffOptions;
  /**
   * Topic that receives messages which exhausted their attempts. Default: none (event only).
   * It may not match the subscription's own pattern: each dead letter would fail again and
   * make another.
   */
  deadLetter?: string;
  /**
   * Called before each dead-letter publish; throwing refuses it, and the message stays with
   * the broker to be retried later. The gateway charges dead letters to its client's publish
   * rate here. Default: none.
   */
  beforeDeadLetter?: (topic: string) => void;
  /** What a full buffer does: 'block' the sender, 'drop' (counted), or block up to `timeoutMs`. Default 'block'. */
  deliveryMode?: 'block' | 'drop' | 'timeout';
  /** Messages buffered ahead of the handler. Default 1,000. */
  bufferSize?: number;
  /** With `deliveryMode: 'timeout'`, how long to wait for room before dropping. Default 1,000 ms. */
  timeoutMs?: number;
  /** Unsettled deliveries are redelivered after this long, where the driver supports it. Default 30 s. */
  ackDeadlineMs?: number;
  /**
   * Pauses the subscription while its handler keeps failing, so messages wait in the broker
   * instead of spending their attempts. After `failures` handler failures in a row (default
   * 5), all within `windowMs` (default 60 s), it opens: no handler starts, what the
   * subscription already holds waits in its buffer (its ack deadline extended, so nothing is
   * redelivered or charged an attempt), and once the buffer is full the driver leaves the rest
   * in the broker (see `deliveryMode`). After `pauseMs` (default 30 s) one message is let
   * through; its success closes the circuit, its failure re-opens it for another `pauseMs`.
   * A failure is a handler that throws or rejects; a message that cannot be decoded or
   * validated counts neither way. Reported as `circuitOpen` / `circuitClosed` bus events and
   * in `stats().byPattern[…].circuit`. Default: none (never pauses).
   */
  circuitBreaker?: CircuitBreakerOptions;
}

/** How long a delivery may go unsettled before the driver redelivers it, unless `ackDeadlineMs` says otherwise. */
export const DEFAULT_ACK_DEADLINE_MS = 30_000;

export type Handler<T = unknown> = (message: Message<T>) => unknown;

export interface Subscription {
  readonly pattern: string;
  readonly group: string | undefined;
  /** Aborted when the subscription starts closing; long handlers can pass it on to cancel work. */
  readonly signal: AbortSignal;
  /** Stops intake, returns unstarted messages to the driver, waits for running handlers. */
  close(): Promise<void>;
}

export interface SubscriptionHost {
  readonly codec: Codec;
  readonly events: BusEventEmitter;
  readonly closeTimeoutMs: number;
  readonly tracing: Tracing | undefined;
  deadLetter(topic: string, original: WireMessage, headers: Record<string, string>): Promise<void>;
  reportError(error: unknown, topic?: string): void;
  driverOf(topic: string): string;
  forget(subscription: CoreSubscription): void;
}

interface Waiter {
  delivery: Delivery;
  resolve(): void;
  timer?: ReturnType<typeof setTimeout>;
}

export class CoreSubscription implements Subscription, Settling {
  readonly counters: Counters;
  private readonly queue = new Queue<Delivery>();
  private readonly waiters: Waiter[] = [];
  private readonly busyKeys = new Map<string, Delivery[]>();
  private readonly idleWaiters: Array<() => void> = [];
  private pending = 0;
  private running = 0;
  private pumping = false;
  private readonly acking = new Set<Promise<void>>();
  /** The promise the last ack returned, which the acks after it may share. */
  private lastStoring: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly aborter = new AbortController();
  readonly signal = this.aborter.signal;
  private readonly concurrency: number;
  private readonly bufferSize: number;
  private readonly failures: FailurePolicy;
  private readonly circuit: CircuitBreaker | undefined;
  private readonly asyncHandler: boolean;
  driverSubscriptions: DriverSubscription[] = [];

  constructor(
    readonly pattern: string,
    private readonly handler: Handler,
    private readonly options: SubscribeOptions,
    private readonly host: SubscriptionHost,
    counters: Counters,
    circuit: CircuitTally | undefined,
    private readonly event?: EventDefinition,
  ) {
    this.counters = counters;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.bufferSize = Math.max(1, options.bufferSize ?? 1_000);
    this.failures = new FailurePolicy(pattern, options, host, counters);
    this.asyncHandler = isAsyncFunction(handler);
    if (options.circuitBreaker !== undefined && circuit !== undefined) {
      const breakerHost = {
        pattern,
        group: options.group,
        events: host.events,
        ackDeadlineMs: options.ackDeadlineMs ?? DEFAULT_ACK_DEADLINE_MS,
        probe: () => {
          if (this.closing === undefined) this.pump();
        },
        keepHeld: () => this.keepHeld(),
      };
      this.circuit = new CircuitBreaker(options.circuitBreaker, breakerHost, circuit);
    }
  }

  get group(): string | undefined {
    return this.options.group;
  }

  /** Messages buffered and running, for stats and tests. */
  get load(): { buffered: number; running: number } {
    return { buffered: this.pending, running: this.running };
  }

  /** The callback handed to drivers. */
  readonly deliver = (delivery: Delivery): void | Promise<void> => {
    if (this.closing !== undefined) {
      this.quietly(() => delivery.nack(0));
      return;
    }
    this.counters.delivered++;
    if (this.pending < this.bufferSize) {
      this.enqueue(delivery);
      return;
    }
    const mode = this.options.deliveryMode ?? 'block';
    if (mode === 'drop') {
      this.drop(delivery);
      return;
    }
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { delivery, resolve };
      if (mode === 'timeout') {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          this.drop(delivery);
          resolve();
        }, this.options.timeoutMs ?? 1_000);
      }
      this.waiters.push(waiter);
    });
  };

  /** Counts a message dropped by the reader or a full buffer, and settles it as consumed. */
  drop(delivery: Delivery): void {
    this.counters.dropped++;
    this.quietly(() => delivery.ack());
  }

  private quietly(settle: () => void | Promise<void>): Promise<void> | undefined {
    return settleQuietly(settle, (error) => this.host.reportError(error, this.pattern));
  }

  private enqueue(delivery: Delivery): void {
    this.pending++;
    this.queue.push(delivery);
    if (this.running < this.concurrency) this.pump();
  }

  private pump(): void {
    // Handlers that finish synchronously call back into pump; the outer loop carries on
    // instead, so a long queue drains without growing the stack.
    if (this.pumping) return;
    this.pumping = true;
    while (this.running < this.concurrency && this.queue.length > 0 && this.circuit?.blocks !== true) {
      const delivery = this.queue.shift()!;
      const key = delivery.message.key;
      if (this.concurrency > 1 && key !== undefined) {
        const waiting = this.busyKeys.get(key);
        if (waiting !== undefined) {
          waiting.push(delivery);
          continue;
        }
        this.busyKeys.set(key, []);
      }
      this.start(delivery);
    }
    this.pumping = false;
  }

  private start(delivery: Delivery): void {
    this.pending--;
    this.running++;
    this.circuit?.started(delivery);
    this.admitWaiter();
    const handled = this.handle(delivery);
    if (handled === undefined) this.finished(delivery);
    else void handled.then(() => this.finished(delivery));
  }

  private admitWaiter(): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) return;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    this.enqueue(waiter.delivery);
    waiter.resolve();
  }

  private finished(delivery: Delivery): void {
    this.running--;
    const key = delivery.message.key;
    if (this.concurrency > 1 && key !== undefined) {
      const waiting = this.busyKeys.get(key) ?? [];
      if (waiting.length > 0 && this.circuit?.blocks === true) {
        // Held ahead of whatever came later, so the key keeps its order once the circuit closes.
        this.queue.unshift(waiting);
        this.busyKeys.delete(key);
      } else {
        const next = waiting.shift();
        if (next !== undefined) this.start(next);
        else this.busyKeys.delete(key);
      }
    }
    if (this.closing === undefined) this.pump();
    if (this.running === 0 && this.idleWaiters.length > 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** Runs the handler; returns a promise only when something is still in flight. */
  private handle(delivery: Delivery): Promise<void> | undefined {
    const wire = delivery.message;
    let message: ReceivedMessage;
    try {
      const data = 'value' in wire ? wire.value : decodePayload(this.host.codec, wire.body, wire.headers[HEADER.contentType], wire.topic);
      message = new ReceivedMessage(delivery, data, this);
    } catch (error) {
      this.circuit?.skipped(delivery);
      return this.deadLetter(new ReceivedMessage(delivery, wire.body, this), error);
    }
    return this.event === undefined ? this.handleMessage(message) : this.handleEvent(message, this.event);
  }

  private handleMessage(message: ReceivedMessage): Promise<void> | undefined {
    let result: unknown;
    try {
      result = this.run(message);
    } catch (error) {
      return this.failed(message, error);
    }
    if (result instanceof Promise) return result.then(() => this.succeeded(message), (error) => this.failed(message, error));
    return this.succeeded(message);
  }

  private succeeded(message: ReceivedMessage): undefined {
    this.circuit?.succeeded(message.delivery);
    return this.settleHandled(message);
  }

  private failed(message: ReceivedMessage, error: unknown): Promise<void> {
    this.circuit?.failed(message.delivery, error);
    return this.retry(message, error);
  }

  /** The handler itself, inside the trace the message carries when tracing is on. */
  private run(message: ReceivedMessage): unknown {
    const tracing = this.host.tracing;
    if (tracing === undefined || message.headers[HEADER.traceparent] === undefined) return runHandling(message, this.handler, this.asyncHandler);
    return tracing.handle(message, () => runHandling(message, this.handler, this.asyncHandler));
  }

  /** A typed subscription validates first; a synchronous schema keeps the whole delivery in this turn (a game loop's reader has it this frame). */
  private handleEvent(message: ReceivedMessage, event: EventDefinition): Promise<void> | undefined {
    let outcome: Validated<unknown> | Promise<Validated<unknown>>;
    try {
      outcome = check(event, message.data, message.topic);
    } catch (error) {
      return this.invalid(message, error);
    }
    if (outcome instanceof Promise) return outcome.then((settled) => this.validated(message, settled), (error) => this.invalid(message, error));
    return this.validated(message, outcome);
  }

  private validated(message: ReceivedMessage, outcome: Validated<unknown>): Promise<void> | undefined {
    if ('error' in outcome) return this.invalid(message, outcome.error);
    (message as { data: unknown }).data = outcome.value;
    return this.handleMessage(message);
  }

  private invalid(message: ReceivedMessage, error: unknown): Promise<void> {
    this.circuit?.skipped(message.delivery);
    return this.retry(message, error);
  }

  /**
   * After a handler resolved: auto mode acks; manual mode leaves settling to the handler.
   * The next message starts without waiting for the ack to be stored (the handler is done,
   * so per-key order holds); otherwise a durable driver caps a subscription at one commit
   * per message. Close waits for the acks still being written.
   */
  private settleHandled(message: ReceivedMessage): undefined {
    if (this.options.ack === 'manual' || message.settled) return undefined;
    message.settled = true;
    this.counters.acked++;
    let storing: void | Promise<void>;
    try {
      storing = message.delivery.ack();
    } catch (error) {
      this.host.reportError(error, this.pattern);
      return undefined;
    }
    // Drivers that store acks together hand each ack of a batch the same promise: tracked once.
    if (storing === undefined || storing === this.lastStoring) return undefined;
    this.lastStoring = storing;
    this.track(storing);
    return undefined;
  }

  /**
   * Keeps an ack being stored for close to wait on, and reports its failure. Its own function:
   * a closure made beside one that names the message would share its scope and keep the whole
   * message alive until the ack is stored (a Kafka commit, thousands of messages later).
   */
  private track(storing: Promise<void>): void {
    const acking = storing.then(
      () => {
        this.acking.delete(acking);
      },
      (error: unknown) => {
        this.acking.delete(acking);
        this.host.reportError(error, this.pattern);
      },
    );
    this.acking.add(acking);
  }

  retry(message: ReceivedMessage, error: unknown, delayMs?: number): Promise<void> {
    return this.failures.retry(message, error, delayMs);
  }

  deadLetter(message: ReceivedMessage, error: unknown): Promise<void> {
    return this.failures.deadLetter(message, error);
  }

  /** Extends the ack deadline of everything handed over and not started, while the circuit holds it. */
  private keepHeld(): void {
    const held = [...this.queue, ...this.waiters.map((waiter) => waiter.delivery), ...[...this.busyKeys.values()].flat()];
    for (const delivery of held) this.quietly(() => delivery.inProgress());
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.aborter.abort();
    this.circuit?.close();
    const stopping = Promise.all(this.driverSubscriptions.map((subscription) => subscription.close()));
    // Release senders blocked on a full buffer first: a driver's read loop may be waiting
    // on one, and its close must not wait for a loop that cannot move.
    const unstarted = this.waiters.splice(0).map((waiter) => {
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      waiter.resolve();
      return waiter.delivery;
    });
    await stopping;
    // Hand back what never started, so another group member (or a later resume) gets it.
    unstarted.push(...this.queue.drain());
    for (const waiting of this.busyKeys.values()) unstarted.push(...waiting.splice(0));
    this.pending = 0;
    await Promise.all(unstarted.map((delivery) => this.quietly(() => delivery.nack(0))));
    if (this.running > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.host.closeTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    await Promise.all(this.acking);
    this.host.forget(this);
  }
}
