// A subscription's circuit breaker: after a run of handler failures it opens, and the
// subscription stops starting handlers, so what it holds waits and the driver's backpressure
// leaves the rest in the broker instead of spending their attempts on a dependency that is
// down. After a pause one probe runs; its success closes the circuit, its failure re-opens it.

import type { BusEventEmitter } from './bus-events.js';
import type { Delivery } from './driver.js';
import { ConfigurationError } from './errors.js';
import type { CircuitState, CircuitStats } from './stats.js';

export interface CircuitBreakerOptions {
  /** Handler failures in a row (no success between them) that open the circuit. Default 5. */
  failures?: number;
  /**
   * The run must fit in this long, from its first failure to its last: a failure older than
   * this stops counting, so failures that trickle in never open the circuit. Default 60,000 ms.
   */
  windowMs?: number;
  /** How long the circuit stays open before it lets one probe message through. Default 30,000 ms. */
  pauseMs?: number;
}

/** What the breaker needs of its subscription. */
export interface CircuitHost {
  readonly pattern: string;
  readonly group: string | undefined;
  readonly events: BusEventEmitter;
  /** How long the broker waits for a settle before redelivering, to keep what is held from lapsing. */
  readonly ackDeadlineMs: number;
  /** The pause is over: start the next message, as the probe. */
  probe(): void;
  /** Tells the broker the messages held while open are still being worked on. */
  keepHeld(): void;
}

/** Refuses options that cannot work, naming the option. */
export function checkCircuitBreaker(options: CircuitBreakerOptions, pattern: string): void {
  const { failures, windowMs, pauseMs } = options;
  let problem: string | undefined;
  if (failures !== undefined && !(Number.isInteger(failures) && failures >= 1)) problem = `circuitBreaker.failures must be a whole number of at least 1, not ${failures}`;
  else if (windowMs !== undefined && !(typeof windowMs === 'number' && windowMs > 0)) problem = `circuitBreaker.windowMs must be a positive number of milliseconds, not ${windowMs}`;
  else if (pauseMs !== undefined && !(Number.isFinite(pauseMs) && pauseMs >= 0)) problem = `circuitBreaker.pauseMs must be a finite number of milliseconds, 0 or more, not ${pauseMs}`;
  if (problem !== undefined) throw new ConfigurationError(`subscribe to '${pattern}': ${problem}`, { topic: pattern });
}

/** The breakers sharing one stats key (pattern and group): how often they opened, and the live ones' state. */
export class CircuitTally {
  opened = 0;
  readonly breakers = new Set<CircuitBreaker>();

  /** The worst state among the live breakers: one open subscription makes the key open. */
  report(): CircuitStats {
    let state: CircuitState = 'closed';
    for (const breaker of this.breakers) {
      if (breaker.state === 'open') state = 'open';
      else if (breaker.state === 'half-open' && state === 'closed') state = 'half-open';
    }
    return { state, opened: this.opened };
  }
}

export class CircuitBreaker {
  state: CircuitState = 'closed';
  private readonly failures: number;
  private readonly windowMs: number;
  private readonly pauseMs: number;
  /** When each failure of the current run happened, the newest `failures` of them. */
  private readonly run: number[] = [];
  /** Failures since the last success, failed probes included. */
  private streak = 0;
  private lastError: unknown;
  private openedAt = 0;
  /** The message let through while half-open; only its outcome decides. */
  private probing: Delivery | undefined;
  private pause: ReturnType<typeof setTimeout> | undefined;
  private keeping: ReturnType<typeof setInterval> | undefined;

  constructor(
    options: CircuitBreakerOptions,
    private readonly host: CircuitHost,
    private readonly tally: CircuitTally,
  ) {
    this.failures = options.failures ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.pauseMs = options.pauseMs ?? 30_000;
    tally.breakers.add(this);
  }

  /** Whether no handler may start now: open, or half-open with its probe under way. */
  get blocks(): boolean {
    return this.state === 'open' || (this.state === 'half-open' && this.probing !== undefined);
  }

  /** A handler starts on `delivery`; while half-open, that is the probe. */
  started(delivery: Delivery): void {
    if (this.state === 'half-open') this.probing = delivery;
  }

  succeeded(delivery: Delivery): void {
    if (this.state === 'closed') {
      this.run.length = 0;
      this.streak = 0;
      return;
    }
    if (delivery !== this.probing) return;
    const { pattern, group } = this.host;
    const event = { pattern, group, failures: this.streak, error: this.lastError, openMs: Date.now() - this.openedAt };
    this.reset();
    this.host.events.emit('circuitClosed', event);
  }

  failed(delivery: Delivery, error: unknown): void {
    if (this.state === 'closed') {
      const now = Date.now();
      this.streak++;
      this.lastError = error;
      this.run.push(now);
      while (this.run.length > this.failures || this.run[0] < now - this.windowMs) this.run.shift();
      if (this.run.length >= this.failures) this.open();
      return;
    }
    // Handlers that started before the circuit opened say nothing about the dependency now.
    if (delivery !== this.probing) return;
    this.streak++;
    this.lastError = error;
    this.open();
  }

  /** The probe never reached its handler (it could not be decoded or validated): the next message probes instead. */
  skipped(delivery: Delivery): void {
    if (delivery === this.probing) this.probing = undefined;
  }

  close(): void {
    this.tally.breakers.delete(this);
    clearTimeout(this.pause);
    clearInterval(this.keeping);
  }

  private open(): void {
    if (this.state === 'closed') {
      this.openedAt = Date.now();
      // Held messages must not lapse to a redelivery, which would charge them an attempt.
      this.keeping = setInterval(() => this.host.keepHeld(), Math.max(1, this.host.ackDeadlineMs / 2));
      this.keeping.unref?.();
    }
    this.state = 'open';
    this.probing = undefined;
    this.tally.opened++;
    const resumeAt = Date.now() + this.pauseMs;
    this.pause = setTimeout(() => {
      this.state = 'half-open';
      this.host.probe();
    }, this.pauseMs);
    const { pattern, group } = this.host;
    this.host.events.emit('circuitOpen', { pattern, group, failures: this.streak, error: this.lastError, resumeAt });
  }

  private reset(): void {
    this.state = 'closed';
    this.probing = undefined;
    this.run.length = 0;
    this.streak = 0;
    this.lastError = undefined;
    clearInterval(this.keeping);
  }
}
