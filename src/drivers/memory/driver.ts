// The in-process driver and the default: fan-out, groups, redelivery, ack deadlines,
// bounded history for replay, TTL and de-duplication, all inside one process. It hands
// payloads through untouched (no encode, no decode) unless `roundTrip` asks otherwise.

import { ClosedError, ConfigurationError, InvalidPositionError, PatternIndex, defineDriver, matchesPattern, type Capabilities, type Deliver, type Delivery, type Driver, type From, type ReadSpec, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { GroupTable } from '../../driver-kit/group-table.js';
import { DueQueue } from './due-queue.js';

export interface MemoryOptions {
  /** Messages kept for `from: 'earliest' | { seq } | { time }` replays. Default 0: retaining messages costs every publish a trip through the old generation of the garbage collector, so replay is opt-in. */
  history?: { maxMessages?: number; maxAgeMs?: number };
  /** Publishing an id again within this window stores it once. Default 0 (off): remembering every id for the usual 2 minutes (`DEFAULT_DEDUPE_WINDOW_MS`) would hold a busy process's memory. */
  dedupeWindowMs?: number;
  /** Encode and decode every message as a wire driver would, to catch payloads a real broker could not carry. Default false. */
  roundTrip?: boolean;
  /** Largest encoded payload accepted. Default: no limit. */
  maxPayloadBytes?: number;
}

const DONE = Promise.resolve();

class Member {
  closed = false;
  constructor(
    readonly deliver: Deliver,
    readonly ackDeadlineMs: number,
  ) {}
}

/** One subscription's share of the stream, or one group's, with what it has in flight. */
class Consumer {
  readonly members: Member[] = [];
  /** Unsettled deliveries, oldest first: an intrusive list, cheaper than a Set per message. */
  oldest: MemoryDelivery | undefined;
  newest: MemoryDelivery | undefined;
  private cursor = 0;
  /** While replaying history, live messages wait here to keep publish order. */
  backlog: WireMessage[] | undefined;

  constructor(
    readonly pattern: string,
    readonly group: string | undefined,
  ) {}

  /** Round-robin over live members, so a group spreads its load. */
  pick(): Member | undefined {
    const { members } = this;
    if (members.length === 0) return undefined;
    if (members.length === 1) return members[0];
    this.cursor = (this.cursor + 1) % members.length;
    return members[this.cursor];
  }

  track(delivery: MemoryDelivery): void {
    delivery.previous = this.newest;
    if (this.newest === undefined) this.oldest = delivery;
    else this.newest.next = delivery;
    this.newest = delivery;
  }

  untrack(delivery: MemoryDelivery): void {
    const { previous, next } = delivery;
    if (previous === undefined) this.oldest = next;
    else previous.next = next;
    if (next === undefined) this.newest = previous;
    else next.previous = previous;
    delivery.previous = delivery.next = undefined;
  }
}

class MemoryDelivery implements Delivery {
  settled = false;
  deadline: number;
  previous: MemoryDelivery | undefined;
  next: MemoryDelivery | undefined;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly consumer: Consumer,
    private readonly member: Member,
    private readonly driver: MemoryDriver,
  ) {
    // The clock may be one sweep old; adding a sweep keeps deadlines from coming early.
    this.deadline = driver.clock + driver.sweepMs + member.ackDeadlineMs;
  }

  ack(): void {
    this.settle();
  }

  nack(delayMs = 0): void {
    if (this.settle()) this.driver.redeliver(this.consumer, this.message, this.attempt + 1, delayMs);
  }

  inProgress(): void {
    if (!this.settled) this.deadline = Date.now() + this.member.ackDeadlineMs;
  }

  reject(): void {
    this.settle();
  }

  /** Marks settled; false if it already was (a late ack after the deadline passed). */
  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.consumer.untrack(this);
    return true;
  }
}

class MemoryDriver implements Driver {
  readonly name = 'memory';
  readonly capabilities: Capabilities;
  readonly carriesValues: boolean;
  private readonly index = new PatternIndex<Consumer>();
  private readonly consumers = new Set<Consumer>();
  private readonly groups = new GroupTable<Consumer>();
  private readonly history: WireMessage[] = [];
  private readonly maxHistory: number;
  private readonly maxAgeMs: number;
  /** Ids within the dedupe window, oldest first, with the message first stored under each (its seq answers a duplicate). */
  private readonly seen = new Map<string, { expires: number; stored: WireMessage }>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly delayed = new DueQueue<WireMessage>((wire) => void this.accept(wire));
  private sweeper: ReturnType<typeof setInterval> | undefined;
  sweepMs = Infinity;
  private seq = 0;
  private closed = false;
  /** A clock the deadline sweep advances, so dispatch need not read the time per message. */
  clock = Date.now();

  constructor(private readonly options: MemoryOptions) {
    this.maxHistory = options.history?.maxMessages ?? 0;
    this.maxAgeMs = options.history?.maxAgeMs ?? Infinity;
    this.carriesValues = !options.roundTrip;
    this.capabilities = {
      persistent: false,
      groups: true,
      replay: this.maxHistory > 0,
      dedupe: (options.dedupeWindowMs ?? 0) > 0,
      ...((options.dedupeWindowMs ?? 0) > 0 ? { dedupeWindowMs: options.dedupeWindowMs } : {}),
      ordering: 'global',
      nativeWildcards: true,
      maxPayloadBytes: options.maxPayloadBytes ?? Infinity,
      ackDeadline: true,
      delayedDelivery: true,
    };
  }

  publish(batch: WireMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the memory driver is closed', { topic: batch[0]?.topic }));
    let waits: Promise<void>[] | undefined;
    for (const wire of batch) {
      if (this.capabilities.dedupe && this.isDuplicate(wire)) continue;
      if (wire.deliverAt !== undefined && wire.deliverAt > Date.now()) {
        this.delayed.add(wire.deliverAt, wire);
        continue;
      }
      const wait = this.accept(wire);
      if (wait !== undefined) (waits ??= []).push(...wait);
    }
    return waits === undefined ? DONE : Promise.all(waits).then(() => undefined);
  }

  /** Numbers, retains and hands out a message that is due; returns the subscribers' backpressure. */
  private accept(wire: WireMessage): Promise<void>[] | undefined {
    let waits: Promise<void>[] | undefined;
    wire.seq = String(++this.seq);
    if (this.maxHistory > 0) this.remember(wire);
    for (const consumer of this.index.match(wire.topic)) {
      if (consumer.backlog !== undefined) {
        consumer.backlog.push(wire);
        continue;
      }
      const wait = this.dispatch(consumer, wire, 1);
      if (wait !== undefined) (waits ??= []).push(wait);
    }
    return waits;
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<{ close(): Promise<void> }> {
    if (this.closed) throw new ClosedError('the memory driver is closed', { topic: spec.pattern });
    if (spec.from !== undefined && spec.from !== 'latest') checkPosition(spec.from);
    const member = new Member(deliver, spec.ackDeadlineMs);
    let consumer = spec.group === undefined ? undefined : this.groups.get(spec.group, spec.pattern);
    if (consumer === undefined) {
      consumer = new Consumer(spec.pattern, spec.group);
      consumer.members.push(member);
      if (spec.group !== undefined) this.groups.set(spec.group, spec.pattern, consumer);
      this.consumers.add(consumer);
      this.index.add(spec.pattern, consumer);
      if (spec.from !== undefined && spec.from !== 'latest') this.replay(consumer, spec.from);
    } else {
      consumer.members.push(member);
    }
    this.watchDeadlines(spec.ackDeadlineMs);
    const owner = consumer;
    return {
      close: async () => {
        member.closed = true;
        const at = owner.members.indexOf(member);
        if (at >= 0) owner.members.splice(at, 1);
        if (owner.members.length === 0) this.forget(owner);
      },
    };
  }

  async *read(spec: ReadSpec): AsyncGenerator<WireMessage> {
    if (this.closed) throw new ClosedError('the memory driver is closed', { topic: spec.pattern });
    if (this.maxHistory === 0) throw new ConfigurationError('the memory driver keeps no history; give it history: { maxMessages }', { topic: spec.pattern });
    checkPosition(spec.from);
    // `retained` copies what matches, so the snapshot cannot grow while it is read.
    yield* this.retained(spec.pattern, spec.from);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.delayed.clear();
    for (const consumer of [...this.consumers]) this.forget(consumer);
    this.groups.clear();
    this.history.length = 0;
  }

  redeliver(consumer: Consumer, wire: WireMessage, attempt: number, delayMs: number): void {
    if (this.closed || !this.consumers.has(consumer)) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.consumers.has(consumer)) return;
      void this.dispatch(consumer, wire, attempt);
    }, delayMs);
    this.timers.add(timer);
  }

  private dispatch(consumer: Consumer, wire: WireMessage, attempt: number): void | Promise<void> {
    if (wire.ttlMs !== undefined && Date.now() > wire.time + wire.ttlMs) return;
    const member = consumer.pick();
    if (member === undefined) return;
    const delivery = new MemoryDelivery(wire, attempt, consumer, member, this);
    consumer.track(delivery);
    return member.deliver(delivery);
  }

  private forget(consumer: Consumer): void {
    this.consumers.delete(consumer);
    this.index.delete(consumer.pattern, consumer);
    if (consumer.group !== undefined) this.groups.delete(consumer.group, consumer.pattern);
  }

  private isDuplicate(wire: WireMessage): boolean {
    const now = Date.now();
    for (const [id, { expires }] of this.seen) {
      if (expires > now) break;
      this.seen.delete(id);
    }
    const known = this.seen.get(wire.id);
    if (known !== undefined) {
      wire.duplicate = true;
      wire.seq = known.stored.seq;
      return true;
    }
    this.seen.set(wire.id, { expires: now + this.options.dedupeWindowMs!, stored: wire });
    return false;
  }

  private remember(wire: WireMessage): void {
    const history = this.history;
    history.push(wire);
    // Trim in chunks so the array is not shifted on every publish; `retained` reads only the newest.
    const excess = history.length - this.maxHistory;
    if (excess >= Math.max(1024, this.maxHistory / 2)) history.splice(0, excess);
  }

  /** Retained messages from `from`, oldest first, without the ones trimming will drop. */
  private retained(pattern: string, from: Exclude<From, 'latest'>): WireMessage[] {
    const now = Date.now();
    const oldestTime = now - this.maxAgeMs;
    const keep = this.history.slice(Math.max(0, this.history.length - this.maxHistory));
    const start =
      from === 'earliest'
        ? () => true
        : 'seq' in from
          ? (wire: WireMessage) => Number(wire.seq) >= Number(from.seq)
          : (wire: WireMessage) => wire.time >= new Date(from.time).getTime();
    return keep.filter((wire) => wire.time >= oldestTime && matchesPattern(pattern, wire.topic) && start(wire));
  }

  /** Delivers history first; live messages published meanwhile queue behind it. */
  private replay(consumer: Consumer, from: Exclude<From, 'latest'>): void {
    const past = this.retained(consumer.pattern, from);
    consumer.backlog = [];
    void (async () => {
      for (const wire of past) await this.dispatch(consumer, wire, 1);
      for (let wire = consumer.backlog!.shift(); wire !== undefined; wire = consumer.backlog!.shift()) {
        await this.dispatch(consumer, wire, 1);
      }
      consumer.backlog = undefined;
    })();
  }

  /** One sweep for all deadlines, rather than a timer per message. */
  private watchDeadlines(ackDeadlineMs: number): void {
    const every = Math.max(5, Math.floor(ackDeadlineMs / 4));
    this.clock = Date.now();
    if (every >= this.sweepMs) return;
    this.sweepMs = every;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref?.();
  }

  private sweep(): void {
    const now = (this.clock = Date.now());
    for (const consumer of this.consumers) {
      let delivery = consumer.oldest;
      while (delivery !== undefined) {
        const next = delivery.next;
        if (delivery.deadline <= now && delivery.settle()) {
          void this.dispatch(consumer, delivery.message, delivery.attempt + 1);
        }
        delivery = next;
      }
    }
  }
}

/** Seqs here are the positive integers this driver hands out. */
function checkPosition(from: Exclude<From, 'latest'>): void {
  if (from === 'earliest') return;
  if ('seq' in from) {
    if (!/^[1-9]\d*$/.test(String(from.seq))) throw new InvalidPositionError(`from: { seq: ${JSON.stringify(from.seq)} } is not a memory seq (a positive integer a publish returned)`);
  } else if (Number.isNaN(new Date(from.time).getTime())) {
    throw new InvalidPositionError(`from: { time: ${String(from.time)} } is not a valid time`);
  }
}

export const memory = defineDriver((options: MemoryOptions = {}): Driver => new MemoryDriver(options));
