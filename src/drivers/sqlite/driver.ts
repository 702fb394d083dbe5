// The embedded durable driver: one SQLite file in WAL mode holds the log, the consumer
// groups and their leases, so several processes on one machine can share it.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ClosedError, defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type LagSpec, type ReadSpec, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import { GroupTable } from '../../driver-kit/group-table.js';
import { Observers } from '../../driver-kit/observers.js';
import { ChangeWatcher } from './change-watcher.js';
import { CommitQueue } from './commit-queue.js';
import { openConnection, type Connection } from './connection.js';
import { DelayedMessages, DueMover } from './delayed.js';
import { sqliteError } from './errors.js';
import { FanOutConsumer } from './fan-out-consumer.js';
import { FanOutTail } from './fan-out-tail.js';
import { GroupConsumer, type GroupMember } from './group-consumer.js';
import { LeaseStore } from './leases.js';
import { isExpired, MessageLog, toWire, type Stored } from './message-log.js';
import { resolveOptions, type ResolvedOptions, type SqliteOptions } from './options.js';
import { Retention } from './retention.js';

/** Drivers open in this process, by file, so a commit wakes the others at once. */
const openFiles = new Map<string, Set<SqliteDriver>>();
const HOST = hostname();
const REAP_INTERVAL_MS = 1_000;
/** Rows a history read fetches at once. */
const READ_BATCH = 256;

interface State {
  connection: Connection;
  log: MessageLog;
  queue: CommitQueue;
  leases: LeaseStore;
  watcher: ChangeWatcher;
  retention: Retention;
  tail: FanOutTail;
  delayed: DelayedMessages;
  mover: DueMover;
}

export class SqliteDriver implements Driver {
  readonly name = 'sqlite';
  readonly capabilities: Capabilities;
  private readonly options: ResolvedOptions;
  private opening: Promise<State> | undefined;
  private state: State | undefined;
  private closing: Promise<void> | undefined;
  private readonly consumers = new Set<FanOutConsumer | GroupConsumer>();
  private readonly groups = new GroupTable<GroupConsumer>();
  private readonly observers = new Observers();
  private reaper: ReturnType<typeof setInterval> | undefined;

  constructor(options: SqliteOptions) {
    this.options = resolveOptions(options);
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: true,
      dedupe: true,
      dedupeWindowMs: this.options.dedupeWindowMs,
      ordering: 'global',
      nativeWildcards: false,
      maxPayloadBytes: this.options.maxPayloadBytes,
      ackDeadline: true,
      delayedDelivery: true,
    };
  }

  /** Opens the file now; otherwise the first publish or subscribe does. Rejects with a typed error. */
  ready(): Promise<void> {
    return this.open().then(() => undefined);
  }

  async publish(batch: WireMessage[]): Promise<void> {
    const state = await this.open(batch[0]?.topic);
    const { queue, log, connection } = state;
    const held = batch.some((wire) => wire.deliverAt !== undefined);
    let stored: Array<Stored | undefined>;
    try {
      stored = await queue.enqueue(() => (held ? this.storeHeld(state, batch) : log.insert(batch)), { wakes: true, durable: true });
    } catch (error) {
      throw sqliteError(error, 'publish', connection.file, batch[0]?.topic);
    }
    // Set only after the commit: a transaction run again after a rollback answers afresh.
    for (let i = 0; i < batch.length; i++) {
      const { seq, duplicate } = stored[i] ?? {};
      batch[i].seq = seq === undefined ? undefined : String(seq);
      if (duplicate === true) batch[i].duplicate = true;
    }
  }

  /**
   * A batch with delayed messages: those still ahead wait in `delayed` (no seq yet) and meet the
   * dedupe window when they enter the log; the rest enter it now.
   */
  private storeHeld({ log, delayed }: State, batch: WireMessage[]): Array<Stored | undefined> {
    const now = Date.now();
    const stored: Array<Stored | undefined> = [];
    for (const wire of batch) {
      if (wire.deliverAt !== undefined && wire.deliverAt > now) {
        delayed.insert(wire);
        stored.push(undefined);
      } else stored.push(log.insert([wire])[0]);
    }
    return stored;
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    const state = await this.open(spec.pattern);
    try {
      const subscription = await this.start(state, spec, deliver);
      if (this.closing !== undefined) {
        await subscription.close();
        throw new ClosedError('the sqlite driver closed while subscribing', { topic: spec.pattern });
      }
      state.watcher.start();
      return subscription;
    } catch (error) {
      throw sqliteError(error, 'read', state.connection.file, spec.pattern);
    }
  }

  async *read(spec: ReadSpec): AsyncGenerator<WireMessage> {
    const { log, connection } = await this.open(spec.pattern);
    let position = log.positionFor(spec.from);
    const last = log.head();
    const topic = isWildcard(spec.pattern) ? undefined : spec.pattern;
    while (position < last) {
      let rows;
      try {
        rows = log.read(position, READ_BATCH, topic);
      } catch (error) {
        throw sqliteError(error, 'read', connection.file, spec.pattern);
      }
      if (rows.length === 0) return;
      const now = Date.now();
      for (const row of rows) {
        if (row.seq > last) return;
        position = row.seq;
        if ((topic !== undefined || matchesPattern(spec.pattern, row.topic)) && !isExpired(row, now)) yield toWire(row);
      }
    }
  }

  /** Read-only, so it needs no commit queue: WAL readers see the last commit. */
  async lag(spec: LagSpec): Promise<number> {
    const { leases, connection } = await this.open(spec.pattern);
    try {
      return leases.lag(spec.group, spec.pattern);
    } catch (error) {
      throw sqliteError(error, 'read', connection.file, spec.pattern);
    }
  }

  private async start(state: State, spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    const report = (error: unknown) => this.emit({ type: 'error', driver: this.name, error });
    if (spec.group === undefined) {
      const consumer = new FanOutConsumer(state.log, state.tail, spec.pattern, state.log.positionFor(spec.from), spec.ackDeadlineMs, deliver, report);
      this.consumers.add(consumer);
      consumer.wake();
      return {
        close: async () => {
          consumer.close();
          this.forget(consumer);
        },
      };
    }
    const name = spec.group;
    const { pattern } = spec;
    let consumer = this.groups.get(name, pattern);
    if (consumer === undefined) {
      const { leases, queue, connection } = state;
      const id = await queue.enqueue(() => leases.group(name, pattern, spec.from));
      consumer = this.groups.get(name, pattern);
      if (consumer === undefined) {
        consumer = new GroupConsumer(leases, queue, id, spec.pattern, spec.ackDeadlineMs, this.options.claimBatch, report, (error) =>
          sqliteError(error, 'settle', connection.file, spec.pattern),
        );
        this.groups.set(name, pattern, consumer);
        this.consumers.add(consumer);
        this.startReaping();
      }
    }
    const member: GroupMember = { deliver };
    const group = consumer;
    group.members.push(member);
    group.wake();
    return {
      close: async () => {
        const at = group.members.indexOf(member);
        if (at >= 0) group.members.splice(at, 1);
        if (group.members.length === 0) {
          void group.stop();
          this.groups.delete(name, pattern);
          this.forget(group);
        }
      },
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private forget(consumer: FanOutConsumer | GroupConsumer): void {
    this.consumers.delete(consumer);
    if (this.consumers.size > 0) return;
    // Nothing left to wake: let the process exit if nothing else keeps it running.
    this.state?.watcher.stop();
    if (this.reaper !== undefined) clearInterval(this.reaper);
    this.reaper = undefined;
  }

  /** Wakes every consumer: something was committed to the file. */
  wakeAll(): void {
    this.state?.mover.recheck();
    this.state?.tail.wake();
    for (const consumer of this.consumers) consumer.wake();
  }

  private async shutdown(): Promise<void> {
    if (this.reaper !== undefined) clearInterval(this.reaper);
    for (const consumer of this.consumers) void consumer.stop();
    this.consumers.clear();
    this.groups.clear();
    const state = this.state ?? (await this.opening?.catch(() => undefined));
    if (state === undefined) return;
    const { connection, queue, leases, watcher, retention, tail, mover } = state;
    mover.stop();
    void tail.stop();
    watcher.stop();
    retention.stop();
    try {
      // Settle what is queued, then hand unacked leases back so other members take them now.
      queue.close();
      connection.db.transaction(() => leases.releaseSelf()).immediate();
    } catch (error) {
      this.emit({ type: 'error', driver: this.name, error: sqliteError(error, 'settle', connection.file) });
    }
    this.notifySiblings(connection.file);
    const siblings = openFiles.get(connection.file);
    siblings?.delete(this);
    if (siblings?.size === 0) openFiles.delete(connection.file);
    if (connection.owned) connection.db.close();
  }

  private open(topic?: string): Promise<State> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('the sqlite driver is closed', { topic }));
    if (this.state !== undefined) return Promise.resolve(this.state);
    this.opening ??= this.connect();
    return this.opening;
  }

  private async connect(): Promise<State> {
    const connection = await openConnection(this.options);
    const { db, file } = connection;
    try {
      const log = new MessageLog(db, this.options.dedupeWindowMs);
      const queue = new CommitQueue(
        db,
        () => {
          this.wakeAll();
          this.notifySiblings(file);
        },
        this.options.synchronous,
        (failing) => log.endTransaction(failing),
      );
      const leases = new LeaseStore(db, log, randomUUID());
      db.transaction(() => leases.registerSelf(process.pid, HOST)).immediate();
      const watcher = new ChangeWatcher(db, file, () => this.wakeAll(), this.options.pollIntervalMs);
      const retention = new Retention(db, queue, this.options.retention, this.options.retentionIntervalMs, (error) =>
        this.emit({ type: 'error', driver: this.name, error: sqliteError(error, 'settle', file) }),
      );
      retention.start();
      let siblings = openFiles.get(file);
      if (siblings === undefined) openFiles.set(file, (siblings = new Set()));
      siblings.add(this);
      // A close() that came meanwhile waits for this and then shuts the state down.
      const tail = new FanOutTail(log, (error) => this.emit({ type: 'error', driver: this.name, error: sqliteError(error, 'read', file) }));
      const delayed = new DelayedMessages(db);
      const mover = new DueMover(delayed, log, queue, (error) => this.emit({ type: 'error', driver: this.name, error: sqliteError(error, 'publish', file) }));
      this.state = { connection, log, queue, leases, watcher, retention, tail, delayed, mover };
      mover.recheck();
      return this.state;
    } catch (error) {
      if (connection.owned) connection.db.close();
      throw sqliteError(error, 'open', file);
    }
  }

  private notifySiblings(file: string): void {
    const siblings = openFiles.get(file);
    if (siblings === undefined || siblings.size < 2) return;
    for (const sibling of siblings) if (sibling !== this) sibling.wakeAll();
  }

  /** Releases the leases of crashed processes at once rather than at their ack deadline. */
  private startReaping(): void {
    const reap = () => {
      const state = this.state;
      if (state === undefined || this.closing !== undefined) return;
      const { queue, leases } = state;
      queue
        .enqueue(() => leases.reapDead(HOST, isAlive))
        .then((released) => {
          if (released === 0) return;
          this.wakeAll();
          this.notifySiblings(state.connection.file);
        })
        .catch((error) => {
          if (this.closing === undefined) this.emit({ type: 'error', driver: this.name, error: sqliteError(error, 'settle', state.connection.file) });
        });
    };
    reap();
    if (this.reaper !== undefined) return;
    this.reaper = setInterval(reap, REAP_INTERVAL_MS);
    this.reaper.unref?.();
  }

  private emit(event: DriverEvent): void {
    this.observers.emit(event);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded durable driver: `sqlite({ path: 'omnibus.db' })`, or `sqlite({ database })`
 * with a better-sqlite3 connection of your own. Options and their defaults: `SqliteOptions`.
 */
export const sqlite = defineDriver((options: SqliteOptions = {}): SqliteDriver => new SqliteDriver(options));
