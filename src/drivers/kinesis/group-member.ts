// One member of a group on one stream: it leases a fair share of the shards in the checkpoint
// store, reads them from their checkpoints, and moves each checkpoint past what its
// subscriber settled. Shards are shared by rank: the live members sorted by id, the first
// `shards % members` of them take one more. A member that stops renewing loses its leases
// when they expire, and the others take them over.

import { randomUUID } from 'node:crypto';
import type { Deliver, WireMessage } from '../../core/driver.js';
import { LocalDeliveries } from '../../core/local-deliveries.js';
import { matchesPattern } from '../../core/topic.js';
import { failure } from '../../driver-kit/failure.js';
import { TurnBatches } from '../../driver-kit/turn.js';
import type { CheckpointStore } from './checkpoints.js';
import { parseSeq, type Start } from './position.js';
import { before, StreamReader, type Received } from './reader.js';
import { ShardLedger } from './shard-ledger.js';
import type { Starts } from './starts.js';

export interface GroupSettings {
  leaseMs: number;
  ackDeadlineMs: number;
}

export interface GroupContext {
  store: CheckpointStore;
  /** `<pattern> <group>`: a group name on two patterns is two groups. */
  group: string;
  pattern: string;
  reader: (take: (records: Received[]) => Promise<void>) => StreamReader;
  shards: () => Promise<string[]>;
  starts: (start: Start) => Promise<Starts>;
  /** Tells this process's other members of the group that the leases changed. */
  changed: () => void;
  report: (error: unknown) => void;
}

export class GroupMember {
  readonly id = randomUUID();
  private readonly reader: StreamReader;
  private readonly deliveries: LocalDeliveries;
  private readonly ledgers = new Map<string, ShardLedger>();
  private readonly saves = new TurnBatches<string, string>((shard) => this.save(shard));
  private readonly saving = new Map<string, Promise<unknown>>();
  private starts!: Starts;
  private timer: ReturnType<typeof setInterval> | undefined;
  private balancing: Promise<void> = Promise.resolve();
  private again = false;
  private closed = false;
  private idle: (() => void) | undefined;
  /** Settles once the member gave back its leases after closing. */
  finished: Promise<void> = Promise.resolve();

  constructor(
    private readonly context: GroupContext,
    private readonly settings: GroupSettings,
    deliver: Deliver,
  ) {
    this.reader = context.reader((records) => this.take(records));
    this.deliveries = new LocalDeliveries(settings.ackDeadlineMs, deliver, {
      settled: (message) => this.settle(message),
      keep: (message) => this.ledgers.has(shardOf(message)),
      left: () => this.idle?.(),
    });
  }

  private get stream(): string {
    return this.reader.stream;
  }

  /** Joins: records the group's start if it is new, and takes a first share of the shards. */
  async open(start: Start): Promise<void> {
    // A new group's 'latest' is the moment it began, so every member starts from the same place.
    const first = start.kind === 'latest' ? { kind: 'time', ms: Date.now() } : start;
    const recorded = JSON.parse(await this.context.store.begin(this.context.group, this.stream, JSON.stringify(first))) as Start;
    this.starts = await this.context.starts(recorded);
    await this.balance();
    // The others make room for this member at once, rather than at their next renewal.
    this.context.changed();
    this.timer = setInterval(() => this.rebalance(), Math.max(50, Math.floor(this.settings.leaseMs / 3)));
    this.timer.unref?.();
  }

  /** Runs a lease pass soon: another member of this process joined or gave shards back. */
  rebalance(): void {
    if (this.closed) return;
    if (this.again) return;
    this.again = true;
    this.balancing = this.balancing.then(() => {
      this.again = false;
      return this.closed ? undefined : this.balance().catch(this.context.report);
    });
  }

  /** Stops reading at once; gives back the leases once what was handed over is settled (or its deadline passed). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.reader.stop();
    this.deliveries.close();
    this.finished = this.finish();
  }

  private async finish(): Promise<void> {
    await this.balancing.catch(() => {});
    await this.drained(() => this.deliveries.inFlight.size === 0);
    await this.saves.flush().catch(() => {});
    const { store, group } = this.context;
    await Promise.all([...this.ledgers.keys()].map((shard) => this.release(shard))).catch(this.context.report);
    await store.leave(group, this.stream, this.id).catch(this.context.report);
    this.context.changed();
  }

  /** Resolves once `done()` holds, or the ack deadline passed (what is still out is read again by the next owner). */
  private async drained(done: () => boolean): Promise<void> {
    const until = Date.now() + this.settings.ackDeadlineMs;
    while (!done() && Date.now() < until) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        setTimeout(resolve, 50);
      });
    }
    this.idle = undefined;
  }

  private async balance(): Promise<void> {
    const { store, group } = this.context;
    const now = Date.now();
    const expires = now + this.settings.leaseMs;
    const members = await store.heartbeat(group, this.stream, this.id, expires, now);
    const held = new Set(await store.renew(group, this.stream, this.id, expires));
    for (const shard of [...this.ledgers.keys()]) if (!held.has(shard)) this.drop(shard);
    const shards = await this.context.shards();
    const rank = Math.max(0, members.indexOf(this.id));
    const target = Math.floor(shards.length / members.length) + (rank < shards.length % members.length ? 1 : 0);
    let changed = false;
    if (this.ledgers.size > target) {
      const surplus = [...this.ledgers.keys()].sort((a, b) => this.inFlight(a) - this.inFlight(b)).slice(0, this.ledgers.size - target);
      await Promise.all(surplus.map((shard) => this.handBack(shard)));
      changed = true;
    }
    const starting: Array<Promise<void>> = [];
    for (const shard of shards) {
      if (this.ledgers.size >= target || this.closed) break;
      if (this.ledgers.has(shard)) continue;
      const checkpoint = await store.take(group, this.stream, shard, this.id, expires, now);
      if (checkpoint === undefined) continue;
      this.ledgers.set(shard, new ShardLedger(checkpoint));
      starting.push(this.reader.add(shard, checkpoint.sequence === undefined ? this.starts.of(shard) : { type: 'AFTER_SEQUENCE_NUMBER', sequence: checkpoint.sequence }));
      changed = true;
    }
    await Promise.all(starting);
    if (!changed) return;
    this.reader.wake();
    this.context.changed();
  }

  /** Gives `shard` to another member: stops reading it, waits for what is out, saves and releases. */
  private async handBack(shard: string): Promise<void> {
    this.reader.remove(shard);
    await this.drained(() => this.inFlight(shard) === 0);
    await this.saves.flush();
    await this.release(shard);
  }

  private async release(shard: string): Promise<void> {
    await this.saving.get(shard);
    this.ledgers.delete(shard);
    await this.context.store.release(this.context.group, this.stream, shard, this.id);
  }

  /** The lease went to another member: what this one still has out of it is no longer its to settle. */
  private drop(shard: string): void {
    this.reader.remove(shard);
    this.ledgers.delete(shard);
  }

  private inFlight(shard: string): number {
    let count = 0;
    for (const delivery of this.deliveries.inFlight) if (shardOf(delivery.message) === shard) count++;
    return count;
  }

  private async take(records: Received[]): Promise<void> {
    const { floor } = this.starts;
    for (const record of records) {
      const ledger = this.ledgers.get(record.shard);
      if (ledger === undefined || !ledger.hand(record.sequence)) continue;
      if ((floor !== undefined && before(record, floor)) || !matchesPattern(this.context.pattern, record.message.topic)) {
        // Not this group's: the checkpoint moves past it, nobody waits for that.
        ledger.settle(record.sequence);
        void this.saves.add(record.shard, record.sequence).catch(() => {});
        continue;
      }
      await this.deliveries.hand(record.message);
    }
  }

  private settle(message: WireMessage): Promise<void> {
    const shard = shardOf(message);
    const ledger = this.ledgers.get(shard);
    if (ledger === undefined) return Promise.reject(lost(shard, message.topic));
    ledger.settle(parseSeq(message.seq, message.topic).sequence);
    return this.saves.add(shard, message.seq!);
  }

  /** Saves the shard's checkpoint, one save per shard at a time, so a later one never lands first. */
  private save(shard: string): Promise<void> {
    const previous = this.saving.get(shard) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(async () => {
      const ledger = this.ledgers.get(shard);
      if (ledger === undefined) throw lost(shard, this.context.pattern);
      const saved = await this.context.store.save(this.context.group, this.stream, shard, this.id, ledger.checkpoint());
      if (!saved) {
        this.drop(shard);
        throw lost(shard, this.context.pattern);
      }
    });
    this.saving.set(shard, next);
    return next;
  }
}

function shardOf(message: WireMessage): string {
  return parseSeq(message.seq, message.topic).shard;
}

function lost(shard: string, topic: string) {
  return failure('refused', `kinesis: shard ${shard} went to another member of the group before this ack was checkpointed; it will be delivered again there`, { topic });
}
