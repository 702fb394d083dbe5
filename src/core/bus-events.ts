// Events an application can listen to: errors, dead-lettered deliveries, connection changes,
// circuit breakers opening and closing.

import type { Message } from './message.js';

/**
 * A message that did not get where it was going: a received one whose handler kept failing
 * (`message` is set), or one a `writer()` accepted whose publish then failed (`message` is
 * absent: `id` names it).
 */
export interface DeliveryFailed {
  message?: Message;
  topic: string;
  id: string;
  /** The driver the topic routes to. */
  driver: string;
  error: unknown;
  attempts: number;
  /** The dead-letter topic it was published to, if the subscription has one. */
  deadLetter?: string;
  /** For a received message: the pattern of the subscription whose handler failed. */
  pattern?: string;
}

/** A subscription's circuit breaker opened (or a failed probe re-opened it): its handlers wait. */
export interface CircuitOpen {
  pattern: string;
  group: string | undefined;
  /** Handler failures in a row so far, failed probes included. */
  failures: number;
  /** The last of them. */
  error: unknown;
  /** When it lets one probe through (ms since the epoch); the probe's success resumes the subscription. */
  resumeAt: number;
}

/** A probe succeeded: the subscription runs its handlers again. */
export interface CircuitClosed {
  pattern: string;
  group: string | undefined;
  /** Handler failures in a row before this success, failed probes included. */
  failures: number;
  /** The last of them. */
  error: unknown;
  /** How long the circuit was open or half-open. */
  openMs: number;
}

export interface BusEvents {
  error: { error: unknown; topic?: string; driver?: string };
  deliveryFailed: DeliveryFailed;
  connectionLost: { driver: string; error?: unknown };
  reconnected: { driver: string };
  circuitOpen: CircuitOpen;
  circuitClosed: CircuitClosed;
}

type Listener<T> = (event: T) => void;

export class BusEventEmitter {
  private readonly listeners = new Map<keyof BusEvents, Set<Listener<never>>>();
  private readonly observers = new Map<keyof BusEvents, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof BusEvents>(type: K, listener: Listener<BusEvents[K]>): () => void {
    return add(this.listeners, type, listener);
  }

  /** Adds a listener that `has` does not count: it hears events without taking them from the logger. */
  observe<K extends keyof BusEvents>(type: K, listener: Listener<BusEvents[K]>): () => void {
    return add(this.observers, type, listener);
  }

  /** Whether anyone listens, so unheard errors can go to the logger instead. */
  has(type: keyof BusEvents): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0;
  }

  emit<K extends keyof BusEvents>(type: K, event: BusEvents[K]): void {
    for (const listeners of [this.listeners, this.observers]) {
      for (const listener of (listeners.get(type) ?? []) as Set<Listener<BusEvents[K]>>) {
        try {
          listener(event);
        } catch {
          // A faulty listener must not break delivery for everyone else.
        }
      }
    }
  }
}

function add<K extends keyof BusEvents>(into: Map<keyof BusEvents, Set<Listener<never>>>, type: K, listener: Listener<BusEvents[K]>): () => void {
  let set = into.get(type);
  if (set === undefined) into.set(type, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}
