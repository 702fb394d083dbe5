// A group subscription: one Redis consumer group per stream, read with XREADGROUP. What a
// member leaves unsettled stays in the group's pending list, and any member claims it with
// XAUTOCLAIM once it has been idle for the ack deadline; Redis counts the deliveries.

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { matchesPattern, type Delivery, type WireMessage } from '../../core/index.js';
import { BlockingReader, type ReadSource } from './blocking-reader.js';
import { consumerGroupName, expired, parseEntry, positionBeforeStart } from './layout.js';
import { StreamReader, type Entry } from './reader.js';
import { claimScript, dropConsumerScript, ensureGroupScript, groupStartScript, ownIdleScript } from './scripts.js';

/** Idle time given to entries handed back: far past any member's ack deadline, so the next sweep of any takes them. */
const RELEASED_IDLE_MS = 24 * 60 * 60 * 1000;

class GroupDelivery implements Delivery {
  settled = false;
  /** When the ack deadline runs out; after it any member may claim the entry. */
  deadline: number;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly reader: GroupReader,
    readonly key: string,
  ) {
    this.deadline = Date.now() + reader.spec.ackDeadlineMs;
  }

  ack(): Promise<void> {
    return this.settle() ? this.reader.acknowledge(this.key, this.message.seq!) : Promise.resolve();
  }

  nack(delayMs = 0): Promise<void> {
    return this.settle() ? this.reader.postpone(this.key, this.message.seq!, delayMs) : Promise.resolve();
  }

  async inProgress(): Promise<void> {
    if (this.settled) return;
    this.deadline = Date.now() + this.reader.spec.ackDeadlineMs;
    await this.reader.touch(this.key, this.message.seq!);
  }

  reject(): Promise<void> {
    return this.ack();
  }

  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.reader.unsettled.delete(this);
    this.reader.freed();
    return true;
  }
}

export class GroupReader extends StreamReader implements ReadSource {
  get group(): string {
    return consumerGroupName(this.spec.group!, this.pattern);
  }
  readonly consumer = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly unsettled = new Set<GroupDelivery>();
  /** Where the group starts on a stream it has not read before. */
  private startId = '0';
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepAgain = new Set<string>();
  private waitingForRoom: (() => void) | undefined;
  /** Entries nacked with a delay (`<key> <id>`), until this subscription closes. */
  private readonly postponed = new Set<string>();
  private readonly loop = new BlockingReader(this.host, this, this.streams);

  protected async open(names: string[]): Promise<void> {
    const { from } = this.spec;
    const start = from === undefined || from === 'latest' ? 'now' : positionBeforeStart(from);
    const [startId, created] = (await groupStartScript.run(this.host.client, [this.host.keys.groups], [this.group, start])) as [
      string,
      number,
    ];
    this.startId = startId;
    // A group born now starts existing streams at their end exactly; later streams from its birth time.
    const first = created === 1 && start === 'now' ? '$' : startId;
    await Promise.all(names.map((name) => this.ensure(name, first)));
    for (const name of names) this.streams.set(this.host.keys.stream(name), '>');
    const every = Math.min(5_000, Math.max(10, this.spec.ackDeadlineMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref?.();
    // Entries a crashed or closed member left behind are claimable now.
    this.sweep();
    this.loop.start();
  }

  protected async add(name: string): Promise<void> {
    await this.ensure(name, this.startId);
    this.streams.set(this.host.keys.stream(name), '>');
    this.sweep(this.host.keys.stream(name));
    this.loop.interrupt();
  }

  read(connection: Redis, keys: string[], positions: string[]): Promise<unknown> {
    const { batchSize, blockMs, prefetch } = this.host;
    const count = Math.max(1, Math.min(batchSize, prefetch - this.held()));
    return connection.callBuffer('XREADGROUP', 'GROUP', this.group, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...keys, ...positions);
  }

  /**
   * A member reads only while it holds fewer than `prefetch` unsettled entries, so busy
   * members leave work to idle ones; once full, it waits until half are settled, so it
   * reads in batches rather than one entry per settle.
   */
  async room(): Promise<void> {
    if (this.held() < this.host.prefetch) return;
    while (this.held() > this.lowWater && !this.closed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.waitingForRoom = resolve;
        timer = setTimeout(resolve, Math.min(1_000, this.spec.ackDeadlineMs));
      });
      clearTimeout(timer);
    }
  }

  /**
   * Unsettled deliveries still within their ack deadline. Past it, an entry is any member's
   * to claim (this one's sweep included), so it no longer counts against `prefetch`; it
   * stays settle-able.
   */
  private held(): number {
    const now = Date.now();
    for (const delivery of this.unsettled) if (delivery.deadline <= now) this.unsettled.delete(delivery);
    return this.unsettled.size;
  }

  private get lowWater(): number {
    return Math.floor(this.host.prefetch / 2);
  }

  freed(): void {
    if (this.unsettled.size > this.lowWater && !this.closed) return;
    const resume = this.waitingForRoom;
    this.waitingForRoom = undefined;
    resume?.();
    if (this.sweepAgain.size > 0 && this.sweeping === undefined) this.sweep(undefined, true);
  }

  async handle(key: string, entries: Entry[], attempts?: number[]): Promise<void> {
    const now = Date.now();
    const name = this.nameOf(key);
    for (let i = 0; i < entries.length; i++) {
      const [rawId, fields] = entries[i];
      const id = rawId.toString();
      if (this.closed) {
        await this.release(key, [id]);
        continue;
      }
      const wire = fields === null ? undefined : parseEntry(id, fields, name);
      if (wire === undefined || expired(wire, now) || (this.host.keys.shared && !matchesPattern(this.pattern, wire.topic))) {
        // Trimmed, not a message, past its TTL, or another topic sharing the stream: nothing to
        // deliver. Not awaited: a lost XACK only brings the entry back to be skipped again.
        void this.acknowledge(key, id).catch(() => undefined);
        continue;
      }
      this.postponed.delete(`${key} ${id}`);
      const delivery = new GroupDelivery(wire, attempts?.[i] ?? 1, this, key);
      this.unsettled.add(delivery);
      const wait = this.deliver(delivery);
      if (wait !== undefined) await wait;
    }
  }

  async recover(error: unknown): Promise<boolean> {
    if (!(error instanceof Error) || !error.message.startsWith('NOGROUP')) return false;
    // The stream or its group is gone (a server restarted without persistence, or a key was deleted).
    await Promise.all([...this.streams.keys()].map((key) => this.ensure(this.nameOf(key), this.startId)));
    return true;
  }

  /**
   * Hands back what this member read but never passed on: a read cut off by the close may
   * have been served by Redis, leaving entries pending for this consumer that no handler
   * will see. What core holds stays settle-able (core nacks what it never started).
   */
  protected async stop(): Promise<void> {
    const reading = this.loop.close();
    this.freed();
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await reading;
    const { client } = this.host;
    await this.host.flushAcks();
    // Entries core holds, or nacked with a delay that Redis already keeps, are not this close's to hand back.
    const held = new Set([...this.unsettled].map((delivery) => `${delivery.key} ${delivery.message.seq}`));
    for (const entry of this.postponed) held.add(entry);
    await Promise.all(
      [...this.streams.keys()].map(async (key) => {
        try {
          const pending = (await client.call('XPENDING', key, this.group, '-', '+', 10_000, this.consumer)) as Array<[string]>;
          await this.release(key, pending.map(([id]) => id).filter((id) => !held.has(`${key} ${id}`)));
          await dropConsumerScript.run(client, [key], [this.group, this.consumer]);
        } catch {
          // The server is unreachable: what this member holds is claimed after the ack deadline instead.
        }
      }),
    );
  }

  acknowledge(key: string, id: string): Promise<void> {
    return this.host.ack(key, this.group, id);
  }

  /**
   * Redelivery after `delayMs`, kept in Redis: the entry stays pending with its idle time set
   * so it reaches the ack deadline when the delay ends, and members are woken then. Delays
   * longer than the deadline keep the entry fresh until the rest fits within it.
   */
  async postpone(key: string, id: string, delayMs: number): Promise<void> {
    if (delayMs > 0 && !this.closed) {
      this.postponed.add(`${key} ${id}`);
      // Another member may take it; forget the oldest rather than grow without bound.
      if (this.postponed.size > 10_000) this.postponed.delete(this.postponed.values().next().value!);
    }
    const deadline = this.spec.ackDeadlineMs;
    if (delayMs === 0) return this.release(key, [id]);
    if (delayMs <= deadline) {
      await this.setIdle(key, [id], deadline - delayMs + 5);
      this.host.later(delayMs, () => this.host.wake(key, this.group));
      return;
    }
    await this.touch(key, id);
    const step = Math.min(delayMs - deadline, deadline / 2);
    this.host.later(step, () => void this.postpone(key, id, delayMs - step).catch((error) => this.host.report(error)));
  }

  /** Resets an entry's idle time, without counting a delivery. */
  async touch(key: string, id: string): Promise<void> {
    await this.setIdle(key, [id], 0);
  }

  /** Hands entries back to the group at once, and wakes its members to claim them. */
  async release(key: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.setIdle(key, ids, RELEASED_IDLE_MS);
    this.host.wake(key, this.group);
  }

  /** Sets the idle time of the entries this member still holds; what another member took is theirs. */
  private setIdle(key: string, ids: string[], idleMs: number): Promise<unknown> {
    return ownIdleScript.run(this.host.client, [key], [this.group, this.consumer, Math.max(0, Math.round(idleMs)), ...ids]);
  }

  /** Releases what this member still holds; called when the driver closes. */
  async releaseUnsettled(): Promise<void> {
    const byKey = new Map<string, string[]>();
    for (const delivery of this.unsettled) {
      if (!delivery.settle()) continue;
      const ids = byKey.get(delivery.key) ?? [];
      ids.push(delivery.message.seq!);
      byKey.set(delivery.key, ids);
    }
    await Promise.all([...byKey].map(([key, ids]) => this.release(key, ids)));
  }

  /**
   * Claims entries idle past the ack deadline, on one stream or all, and delivers them.
   * Claims take room under `prefetch` like reads do; streams left over wait for room.
   */
  sweep(only?: string, queued = false): void {
    if (this.closed) return;
    if (!queued) for (const key of only === undefined ? this.streams.keys() : [only]) this.sweepAgain.add(key);
    this.sweeping ??= this.claimPending().catch((error) => this.host.report(error)).finally(() => {
      this.sweeping = undefined;
      if (this.sweepAgain.size > 0 && this.held() < this.host.prefetch) this.sweep(undefined, true);
    });
  }

  private async claimPending(): Promise<void> {
    while (this.sweepAgain.size > 0 && !this.closed) {
      for (const key of [...this.sweepAgain]) {
        const room = Math.min(this.host.batchSize, this.host.prefetch - this.held());
        if (room <= 0) return;
        this.sweepAgain.delete(key);
        const claimed = (await claimScript
          .run(this.host.client, [key], [this.group, this.consumer, this.spec.ackDeadlineMs, room], true)
          .catch((error) => {
            if (!(error instanceof Error && error.message.startsWith('NOGROUP'))) this.host.report(error);
            return [];
          })) as Array<[Buffer, Buffer[], number]>;
        if (claimed.length === 0) continue;
        await this.handle(key, claimed.map(([id, fields]) => [id, fields]), claimed.map(([, , count]) => Number(count)));
        if (claimed.length >= room) this.sweepAgain.add(key);
      }
    }
  }

  private ensure(name: string, start: string): Promise<unknown> {
    const { keys, client } = this.host;
    return ensureGroupScript.run(client, [keys.stream(name), keys.topics], [this.group, start, name, keys.events]);
  }
}
