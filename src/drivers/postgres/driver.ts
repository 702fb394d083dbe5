// The PostgreSQL driver: a log table with a global sequence, groups as positions plus
// leases, LISTEN/NOTIFY wake-ups and a slow safety poll. Publishing and claiming are one
// round trip each (SQL in queries.ts, functions in schema.ts); acks are batched.

import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type LagSpec, type ReadSpec, type SubscribeSpec, type WireMessage } from '../../core/driver.js';
import { ClosedError, ConfigurationError, ConnectionError, InvalidPositionError, OmnibusError } from '../../core/errors.js';
import { Coalescer } from '../../driver-kit/coalescer.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { GroupTable } from '../../driver-kit/group-table.js';
import { Observers } from '../../driver-kit/observers.js';
import { Consumer, Member, type Claimed, type ClaimedRow, type ConsumerHost, type Settle } from './consumer.js';
import { connectionError, isConnectionLoss, isRefusal, publishError, redact } from './errors.js';
import { readHistory } from './history.js';
import { Listener } from './listener.js';
import { migrate, quoteIdent } from './migrate.js';
import { resolveOptions, type PostgresOptions, type ResolvedOptions } from './options.js';
import { positionOf, type Position } from './positions.js';
import {
  claimStatement,
  createGroupStatement,
  dropGroupStatement,
  lagStatement,
  settleStatement,
  type Statement,
} from './queries.js';
import { migrations } from './schema.js';
import { WakeUps } from './wake-ups.js';
import { Recovery } from './recovery.js';
import { applyRetention } from './retention.js';
import { loadPeer } from '../../driver-kit/peer.js';
import { storeMessages } from './publishing.js';
import { DueMover, holdStatement } from './delayed.js';

export interface PostgresDriver extends Driver {
  /** Connects, migrates and starts listening now instead of on first use. Rejects with ConnectionError, also while the server is unreachable. */
  ready(): Promise<void>;
  /** Runs retention, TTL expiry and clean-up now (it also runs every `retentionIntervalMs`). */
  applyRetention(): Promise<void>;
  read(spec: ReadSpec): AsyncIterable<WireMessage>;
}

const MAX_PUBLISH_ROWS = 1_000;
const MAX_SETTLE_ROWS = 1_000;
const HEARTBEAT_MS = 30_000;

type PgModule = typeof import('pg');

async function loadPg(): Promise<PgModule> {
  const module = (await loadPeer('postgres', 'pg', () => import('pg'))) as PgModule & { default?: PgModule };
  return module.default ?? module;
}

/** A pattern as a PostgreSQL regular expression (tokens need no escaping); null matches everything. */
export function patternRegex(pattern: string): string | null {
  if (pattern === '>') return null;
  const tokens = pattern.split('.').map((token) => (token === '*' ? '[^.]+' : token === '>' ? '.+' : token));
  return `^${tokens.join('\\.')}$`;
}

class PostgresDriverImpl implements PostgresDriver, ConsumerHost {
  readonly name = 'postgres';
  readonly capabilities: Capabilities;
  private readonly options: ResolvedOptions;
  private readonly table: string;
  private readonly where: string;
  private pool: Pool | undefined;
  private listener: Listener | undefined;
  private readonly starting = new ConnectOnce(() => this.start());
  private closing: Promise<void> | undefined;
  private ended = false;
  private readonly recovery = new Recovery(
    async () => {
      await this.listener!.start();
      await this.pool!.query('SELECT 1');
    },
    {
      lost: (error) => this.emit({ type: 'connectionLost', driver: this.name, error }),
      back: () => {
        this.emit({ type: 'reconnected', driver: this.name });
        this.wakeUps.topics(undefined);
      },
    },
    () => this.ended || this.closing !== undefined,
  );
  private readonly observers = new Observers();
  private readonly wakeUps: WakeUps;
  private readonly groups = new GroupTable<Consumer>();
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private lastHeartbeat = Date.now();
  private readonly publisher: Coalescer<WireMessage>;
  private readonly mover: DueMover;
  private readonly settler: Coalescer<Settle>;
  private readonly onPoolError = (error: unknown) => this.recovery.lost(error);
  // A checked-out client has no listener of the pool's; without one, a connection that
  // drops while a query is on its way out would be an uncaught exception.
  private readonly onPoolConnect = (client: PoolClient) => client.on('error', (error) => this.failed(error));

  constructor(options: PostgresOptions) {
    this.options = resolveOptions(options);
    this.table = quoteIdent(this.options.schema);
    this.where = this.options.pool === undefined ? redact(this.options.connectionString) : 'the given pool';
    this.wakeUps = new WakeUps(this.options.schema);
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: true,
      dedupe: true,
      dedupeWindowMs: this.options.dedupeWindowMs,
      ordering: 'global',
      nativeWildcards: true,
      maxPayloadBytes: this.options.maxPayloadBytes,
      ackDeadline: true,
      delayedDelivery: true,
    };
    this.publisher = new Coalescer((batch) => this.store(batch), {
      maxItems: MAX_PUBLISH_ROWS,
      split: (error) => !(error instanceof OmnibusError) || !error.retriable,
    });
    this.settler = new Coalescer((batch) => this.storeSettles(batch), { maxItems: MAX_SETTLE_ROWS });
    this.mover = new DueMover(() => this.pool!, this.options.schema, this.options.dedupeWindowMs, (error) => this.failed(error));
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  async ready(): Promise<void> {
    await this.open();
    if (!this.recovery.up) throw new ConnectionError('the connection to PostgreSQL is down; reconnecting');
  }

  private open(): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('the postgres driver is closed'));
    return this.starting.get();
  }

  async publish(batch: WireMessage[]): Promise<void> {
    if (this.closing !== undefined) throw new ClosedError('the postgres driver is closed', { topic: batch[0]?.topic });
    if (batch.length === 0) return;
    await this.open();
    if (!batch.some((wire) => wire.deliverAt !== undefined)) return this.publisher.add(batch);
    const now = Date.now();
    const held = batch.filter((wire) => wire.deliverAt !== undefined && wire.deliverAt > now);
    const due = batch.filter((wire) => !held.includes(wire));
    await Promise.all([this.hold(held), due.length > 0 ? this.publisher.add(due) : undefined]);
  }

  /** Stores messages not yet due in `delayed`; they get a seq when they enter the log. */
  private async hold(batch: WireMessage[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      await this.pool!.query(holdStatement(this.options.schema, batch));
    } catch (error) {
      if (isConnectionLoss(error)) this.recovery.lost(error);
      throw publishError(error, this.where, batch[0].topic);
    }
    this.mover.expect(batch.reduce((earliest, wire) => Math.min(earliest, wire.deliverAt!), Infinity));
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    if (this.closing !== undefined) throw new ClosedError('the postgres driver is closed', { topic: spec.pattern });
    const from = positionOf(spec.from ?? 'latest', spec.pattern);
    await this.open();
    if (this.closing !== undefined) throw new ClosedError('the postgres driver is closed', { topic: spec.pattern });
    const ephemeral = spec.group === undefined;
    const group = spec.group ?? `ephemeral:${randomUUID()}`;
    const { pattern } = spec;
    let consumer = this.groups.get(group, pattern);
    if (consumer === undefined) {
      consumer = new Consumer(group, spec.pattern, patternRegex(spec.pattern), ephemeral, spec.ackDeadlineMs, this.options.prefetch, this);
      const created = consumer;
      this.groups.set(group, pattern, created);
      // Wake-ups reach it only once its group row exists.
      created.ready = this.createGroup(group, spec.pattern, from, ephemeral).then(
        () => void (this.groups.get(group, pattern) === created && this.wakeUps.add(created)),
        (error) => {
          this.groups.delete(group, pattern);
          throw error;
        },
      );
    }
    await consumer.ready;
    if (this.closing !== undefined) throw new ClosedError('the postgres driver is closed', { topic: spec.pattern });
    // Its last member left while this one waited: start over with a fresh consumer.
    if (this.groups.get(group, pattern) !== consumer) return this.subscribe(spec, deliver);
    const member = new Member(deliver, spec.ackDeadlineMs);
    consumer.members.push(member);
    consumer.wake();
    const owner = consumer;
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        const at = owner.members.indexOf(member);
        if (at >= 0) owner.members.splice(at, 1);
        if (owner.members.length === 0 && this.groups.get(group, pattern) === owner) await this.retire(owner);
      },
    };
  }

  /** A snapshot of the log from `spec.from`, in chunks; throws InvalidPositionError at the call for a bad position. */
  read(spec: ReadSpec): AsyncIterable<WireMessage> {
    const from = positionOf(spec.from, spec.pattern);
    if ('latest' in from) {
      throw new InvalidPositionError("postgres: read() starts in history; use from 'earliest', { seq } or { time }", { topic: spec.pattern });
    }
    return this.history(spec.pattern, from);
  }

  async lag(spec: LagSpec): Promise<number> {
    await this.open();
    const { rows } = await this.pool!.query(lagStatement(this.options.schema, spec.group, spec.pattern, patternRegex(spec.pattern)));
    return Number(rows[0].lag);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.groups.values()].map((consumer) => this.retire(consumer)));
      await this.starting.current?.catch(() => {});
      await this.publisher.idle();
      await this.settler.idle();
      await this.mover.stop();
      for (const timer of this.timers) clearInterval(timer);
      await this.listener?.stop();
      this.ended = true;
      if (this.pool !== undefined) {
        if (this.options.pool === undefined) await this.pool.end().catch(() => {});
        else this.pool.off('error', this.onPoolError).off('connect', this.onPoolConnect);
      }
    })();
    return this.closing;
  }

  async applyRetention(): Promise<void> {
    await this.open();
    await applyRetention(this.pool!, this.options);
  }

  // ConsumerHost

  async claim(consumer: Consumer, limit: number): Promise<Claimed> {
    const { rows } = await this.pool!.query<ClaimedRow & { next_due_ms: number | null }>(
      claimStatement(this.options.schema, consumer.group, consumer.pattern, consumer.regex, limit, consumer.leaseMs),
    );
    const meta = rows.pop();
    if (rows.length > 1) rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    return { rows, nextDueMs: meta?.next_due_ms ?? undefined };
  }

  settle(settle: Settle): Promise<void> {
    if (this.ended) return Promise.reject(new ClosedError('the postgres driver is closed; the message will be redelivered'));
    return this.settler.add([settle]);
  }

  failed(error: unknown): void {
    if (this.closing !== undefined) return;
    if (isConnectionLoss(error)) this.recovery.lost(error);
    else this.emit({ type: 'error', driver: this.name, error });
  }

  // Internals

  private async start(): Promise<void> {
    const pg = await loadPg();
    if (this.pool === undefined) {
      this.pool =
        this.options.pool ??
        new pg.Pool({
          connectionString: this.options.connectionString,
          max: this.options.poolSize,
          connectionTimeoutMillis: this.options.connectTimeoutMs,
          application_name: 'omnibus',
        });
      this.pool.on('error', this.onPoolError).on('connect', this.onPoolConnect);
    }
    try {
      await migrate(this.pool, this.options.schema, 'bus', migrations, this.options.migrate);
      this.listener ??= new Listener(this.pool, `${this.options.schema}.messages`, (payload) => this.notified(payload), (error) => this.recovery.lost(error));
      await this.listener.start();
    } catch (error) {
      if (error instanceof ConfigurationError) throw error;
      if (isConnectionLoss(error) || isRefusal(error)) throw connectionError(error, this.where);
      throw error;
    }
    if (this.closing !== undefined) return;
    const poll = setInterval(() => this.tick(), this.options.pollIntervalMs);
    const retention = setInterval(() => void this.applyRetention().catch((error) => this.failed(error)), this.options.retentionIntervalMs);
    for (const timer of [poll, retention]) timer.unref();
    this.timers.push(poll, retention);
    void this.mover.recheck();
    setTimeout(() => void (this.closing === undefined && this.applyRetention().catch((error) => this.failed(error))), 1_000).unref();
  }

  private history(pattern: string, from: Exclude<Position, { latest: true }>): AsyncIterable<WireMessage> {
    const query = async <Row>(statement: Statement): Promise<Row[]> => {
      if (this.closing !== undefined) throw new ClosedError('the postgres driver is closed', { topic: pattern });
      await this.open();
      try {
        return (await this.pool!.query(statement)).rows as Row[];
      } catch (error) {
        throw isConnectionLoss(error) ? connectionError(error, this.where, pattern) : error;
      }
    };
    return readHistory(query, this.options.schema, patternRegex(pattern), from);
  }

  private async createGroup(group: string, pattern: string, from: Position, ephemeral: boolean): Promise<void> {
    await this.pool!.query(createGroupStatement(this.options.schema, group, pattern, from, ephemeral));
  }

  private async retire(consumer: Consumer): Promise<void> {
    this.groups.delete(consumer.group, consumer.pattern);
    this.wakeUps.delete(consumer);
    await consumer.stop();
    if (consumer.ephemeral) {
      await this.pool!.query(dropGroupStatement(this.options.schema, consumer.group, consumer.pattern))
        .catch(() => {}); // The retention sweep removes it once its heartbeat is stale.
    }
  }

  private store(batch: WireMessage[]): Promise<void> {
    return storeMessages(this.pool!, batch, {
      schema: this.options.schema,
      dedupeWindowMs: this.options.dedupeWindowMs,
      retryMs: this.options.publishRetryMs,
      where: this.where,
      lost: (error) => this.recovery.lost(error),
      ended: () => this.ended,
    });
  }

  private async storeSettles(batch: Settle[]): Promise<void> {
    const query = settleStatement(this.options.schema, batch);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.pool!.query(query);
        return;
      } catch (error) {
        // Two processes settling overlapping leases can deadlock; the loser simply tries again.
        if ((error as { code?: string }).code === '40P01' && attempt < 3) continue;
        if (isConnectionLoss(error)) {
          this.recovery.lost(error);
          throw connectionError(error, this.where);
        }
        throw error;
      }
    }
  }

  private notified(payload: string): void {
    this.wakeUps.topics(payload === '' ? undefined : payload.split(','));
  }

  private tick(): void {
    if (!this.recovery.up) return; // Reconnecting wakes every subscription.
    void this.wakeUps.poll(this.pool!).catch((error) => this.failed(error));
    // Another process's delayed messages, should it have stopped before they came due.
    void this.mover.recheck();
    if (Date.now() - this.lastHeartbeat < HEARTBEAT_MS) return;
    this.lastHeartbeat = Date.now();
    const names = [...this.wakeUps].filter((consumer) => consumer.ephemeral).map((consumer) => consumer.group);
    if (names.length === 0) return;
    void this.pool!.query(`UPDATE ${this.table}.groups SET heartbeat_at = now() WHERE name = ANY ($1)`, [names]).catch((error) =>
      this.failed(error),
    );
  }

  private emit(event: DriverEvent): void {
    this.observers.emit(event);
  }
}

/** The PostgreSQL driver; see `PostgresOptions` for what it can be told and docs/postgres.md for its tables. */
export const postgres = defineDriver((options: PostgresOptions = {}): PostgresDriver => new PostgresDriverImpl(options));
