// Events an application can listen to: errors, dead-lettered deliveries, connection changes.

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
}

export interface BusEvents {
  error: { error: unknown; topic?: string; driver?: string };
  deliveryFailed: DeliveryFailed;
  connectionLost: { driver: string; error?: unknown };
  reconnected: { driver: string };
}

type Listener<T> = (event: T) => void;

export class BusEventEmitter {
  private readonly listeners = new Map<keyof BusEvents, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof BusEvents>(type: K, listener: Listener<BusEvents[K]>): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Whether anyone listens, so unheard errors can go to the logger instead. */
  has(type: keyof BusEvents): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0;
  }

  emit<K extends keyof BusEvents>(type: K, event: BusEvents[K]): void {
    const set = this.listeners.get(type) as Set<Listener<BusEvents[K]>> | undefined;
    if (set === undefined) return;
    for (const listener of set) {
      try {
        listener(event);
      } catch {
        // A faulty listener must not break delivery for everyone else.
      }
    }
  }
}
