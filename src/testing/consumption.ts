// What a test bus's subscriptions did with each message, seen from the driver's side: every
// delivery is tracked from its arrival to its ack, nack or reject, and a nack until the
// redelivery arrives. `consumed` lists the outcomes; `drain` waits until nothing is
// outstanding, counting messages published but not yet delivered too.

import type { Deliver, Delivery, DriverSubscription, SubscribeSpec, WireMessage } from '../core/driver.js';
import { assertPattern, matchesPattern } from '../core/topic.js';
import { WaitTimeoutError } from './wait.js';

export type Outcome = 'acked' | 'retried' | 'deadLettered';

export interface ConsumedMessage {
  /** The pattern of the subscription that handled it. */
  subscription: string;
  group?: string;
  id: string;
  topic: string;
  data: unknown;
  headers: Record<string, string>;
  key?: string;
  attempt: number;
  /** A nack, a thrown handler or a lapsed ack deadline is `retried`; a reject or spent attempts `deadLettered`. */
  outcome: Outcome;
  /** Why it was dead-lettered. */
  reason?: string;
}

export interface DrainOptions {
  /** How long to wait for every handler to settle. Default 5,000 ms. */
  timeoutMs?: number;
}

/** One subscription, or all members of one group: redeliveries go to any of them. */
interface Consumer {
  spec: SubscribeSpec;
  members: number;
  /** Subscribed at the driver: from now on what is published reaches it. */
  live: boolean;
  closed: boolean;
}

/** Something a drain waits on. */
interface Pending {
  consumer: Consumer;
  wire: WireMessage;
  attempt: number;
  state: 'not yet delivered' | 'in a handler' | 'retry due';
  since: number;
  dueAt?: number;
}

export class Consumption {
  private readonly outcomes: ConsumedMessage[] = [];
  private readonly consumers = new Set<Consumer>();
  private readonly groups = new Map<string, Consumer>();
  private readonly outstanding = new Set<Pending>();
  /** The latest pending entry per consumer and message id. */
  private readonly byMessage = new Map<Consumer, Map<string, Pending>>();
  private idle: Array<() => void> = [];

  constructor(private readonly payloadOf: (wire: WireMessage) => unknown) {}

  /** Wraps a driver's subscribe, so every delivery it makes is tracked. */
  subscribe(spec: SubscribeSpec, deliver: Deliver, subscribe: (deliver: Deliver) => Promise<DriverSubscription>): Promise<DriverSubscription> {
    const consumer = this.join(spec);
    const tracked: Deliver = (delivery) => deliver(this.arrived(consumer, delivery));
    return subscribe(tracked).then(
      (subscription) => {
        consumer.live = true;
        return { close: () => (this.leave(consumer), subscription.close()) };
      },
      (error: unknown) => {
        this.leave(consumer);
        throw error;
      },
    );
  }

  /** A message is being published: each live subscription it matches should receive it. */
  published(wire: WireMessage): void {
    if (wire.ttlMs !== undefined) return; // it may expire undelivered, and rightly
    for (const consumer of this.consumers) {
      if (!consumer.live || !matchesPattern(consumer.spec.pattern, wire.topic) || this.entry(consumer, wire.id) !== undefined) continue;
      this.add({ consumer, wire, attempt: 1, state: 'not yet delivered', since: Date.now() });
    }
  }

  /** The driver refused the message: no one will receive it. */
  unpublished(wire: WireMessage): void {
    for (const pending of [...this.outstanding]) {
      if (pending.wire === wire && pending.state === 'not yet delivered') this.remove(pending);
    }
  }

  matching(pattern: string): ConsumedMessage[] {
    assertPattern(pattern);
    return this.outcomes.filter((message) => matchesPattern(pattern, message.topic));
  }

  drain(options: DrainOptions = {}): Promise<void> {
    if (this.outstanding.size === 0) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.idle = this.idle.filter((waiter) => waiter !== done);
        reject(new WaitTimeoutError(this.stuck(timeoutMs)));
      }, timeoutMs);
      this.idle.push(done);
    });
  }

  /** Forgets everything outstanding: the bus closed, so nothing more will settle. */
  closed(): void {
    for (const pending of [...this.outstanding]) this.remove(pending);
  }

  private join(spec: SubscribeSpec): Consumer {
    const key = spec.group === undefined ? undefined : `${spec.group}\u0000${spec.pattern}`;
    let consumer = key === undefined ? undefined : this.groups.get(key);
    if (consumer === undefined) {
      consumer = { spec, members: 0, live: false, closed: false };
      this.consumers.add(consumer);
      if (key !== undefined) this.groups.set(key, consumer);
    }
    consumer.members++;
    return consumer;
  }

  /** The last member gone, nothing more reaches the consumer: what it still awaited is void. */
  private leave(consumer: Consumer): void {
    if (--consumer.members > 0) return;
    consumer.closed = true;
    this.consumers.delete(consumer);
    if (consumer.spec.group !== undefined) this.groups.delete(`${consumer.spec.group}\u0000${consumer.spec.pattern}`);
    for (const pending of this.byMessage.get(consumer)?.values() ?? []) {
      if (pending.state !== 'in a handler') this.remove(pending);
    }
  }

  private arrived(consumer: Consumer, delivery: Delivery): Delivery {
    const { message: wire, attempt } = delivery;
    const before = this.entry(consumer, wire.id);
    const pending: Pending = { consumer, wire, attempt, state: 'in a handler', since: Date.now() };
    // Added before what it replaces is removed, so a drain never sees a moment of nothing.
    this.add(pending);
    if (before !== undefined) {
      // A delivery still in a handler when its message comes again: its ack deadline lapsed.
      if (before.state === 'in a handler' && attempt > before.attempt) this.record(before, 'retried');
      if (before.state !== 'in a handler' || attempt > before.attempt) this.remove(before);
    }
    const settle = (outcome: Outcome, reason?: string, delayMs = 0): void => {
      if (!this.outstanding.has(pending)) return; // settled already, or superseded by a redelivery
      // Handing back at close what never reached a handler is no outcome, and comes back to no one here.
      if (!(consumer.closed && outcome === 'retried')) {
        this.record(pending, outcome, reason);
        if (outcome === 'retried') this.add({ consumer, wire, attempt: attempt + 1, state: 'retry due', since: Date.now(), dueAt: Date.now() + delayMs });
      }
      this.remove(pending);
    };
    return {
      message: wire,
      attempt,
      ack: () => (settle('acked'), delivery.ack()),
      nack: (delayMs) => (settle('retried', undefined, delayMs), delivery.nack(delayMs)),
      inProgress: () => delivery.inProgress(),
      reject: (reason) => (settle('deadLettered', reason), delivery.reject(reason)),
    };
  }

  private record(pending: Pending, outcome: Outcome, reason?: string): void {
    const { wire, attempt, consumer } = pending;
    this.outcomes.push({
      subscription: consumer.spec.pattern,
      group: consumer.spec.group,
      id: wire.id,
      topic: wire.topic,
      data: this.payloadOf(wire),
      headers: wire.headers,
      key: wire.key,
      attempt,
      outcome,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  private entry(consumer: Consumer, id: string): Pending | undefined {
    return this.byMessage.get(consumer)?.get(id);
  }

  private add(pending: Pending): void {
    this.outstanding.add(pending);
    let entries = this.byMessage.get(pending.consumer);
    if (entries === undefined) this.byMessage.set(pending.consumer, (entries = new Map()));
    entries.set(pending.wire.id, pending);
  }

  private remove(pending: Pending): void {
    this.outstanding.delete(pending);
    const entries = this.byMessage.get(pending.consumer);
    if (entries?.get(pending.wire.id) === pending) entries.delete(pending.wire.id);
    if (entries?.size === 0) this.byMessage.delete(pending.consumer);
    if (this.outstanding.size === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** What a drain that timed out was still waiting on. */
  private stuck(timeoutMs: number): string {
    const now = Date.now();
    const lines = [...this.outstanding].slice(0, 10).map(({ consumer, wire, attempt, state, since, dueAt }) => {
      const group = consumer.spec.group === undefined ? '' : ` (group '${consumer.spec.group}')`;
      const when = state === 'retry due' ? `in ${Math.max(0, dueAt! - now)} ms` : `for ${now - since} ms`;
      return `${wire.topic} (id ${wire.id}, attempt ${attempt}) on subscription '${consumer.spec.pattern}'${group}: ${state} ${when}`;
    });
    const more = this.outstanding.size > lines.length ? `, and ${this.outstanding.size - lines.length} more` : '';
    return `drain timed out after ${timeoutMs} ms with ${this.outstanding.size} still unsettled: ${lines.join('; ')}${more}`;
  }
}
