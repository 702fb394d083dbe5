// One subscription: a consumer of its own that fetches the partitions it holds and hands
// their records to core. Without a group it holds every partition of the matching topics
// (assigned directly: no group to join, so no rebalance wait and nothing left on the broker).
// With a group, Kafka's group protocol assigns the partitions, and acks move the group's
// committed offset (ledger.ts). Redelivery (nack, the ack deadline) happens in this process,
// so a nacked record holds back the commit point, never the rest of its partition.

import type { ConnectionPool, Consumer, GroupAssignment } from '@platformatic/kafka';
import type { Deliver, DriverEvent, DriverSubscription, SubscribeSpec, WireMessage } from '../../core/driver.js';
import { backoffDelay } from '../../core/backoff.js';
import { ConnectionError } from '../../core/errors.js';
import { LocalDeliveries } from '../../core/local-deliveries.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import { afterThisTurn } from '../../driver-kit/turn.js';
import type { LinkState } from '../../driver-kit/link-state.js';
import { Pump } from '../../driver-kit/pump.js';
import type { Cluster } from './cluster.js';
import { kafkaFailure } from './errors.js';
import { commitOffsets, committedOffsets, type CommitEntry } from './group-offsets.js';
import { decodeOffsets, PartitionLedger } from './ledger.js';
import { startOf, type Start } from './position.js';
import { fetchRecords, inPublishOrder, offsetsAt, type Fetched, type Fetcher, type FetchPosition } from './fetch.js';

export interface ConsumerSettings {
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  partitionMaxBytes: number;
  topicRefreshMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  prefetch: number;
}

interface Held extends FetchPosition {
  /** From a seq, in another partition: records published before the seq's own are left out. */
  after?: SeqRecord;
  /** Set once the partition is no longer this subscription's (it went to another member). */
  released?: boolean;
  /** Groups only: what is settled, for commits. */
  ledger?: PartitionLedger;
}

const key = (topic: string, partition: number) => `${topic}:${partition}`;

/** The record a `from: { seq }` names: other partitions start at its time, ties broken by id. */
interface SeqRecord {
  topic: string;
  partition: number;
  time: number;
  id: string;
}

/** Where a handed-out message came from, its fetched record, kept on the message itself (cheaper than a WeakMap entry per record). */
const POSITION = Symbol('kafka position');
type Positioned = WireMessage & { [POSITION]?: Fetched & { position: Held } };
const fetchedOf = (message: WireMessage) => (message as Positioned)[POSITION];

/** How long a closing group member waits for the next settle before it leaves the group. */
const DRAIN_IDLE_MS = 1_000;

export class KafkaSubscription extends Pump implements DriverSubscription {
  private readonly held = new Map<string, Held>();
  private readonly topics = new Set<string>();
  private readonly deliveries: LocalDeliveries;
  private readonly start: Start;
  private readonly subscribedAt = Date.now();
  private seqRecord: SeqRecord | undefined;
  private readonly fetcher: Fetcher;
  /** Between a rebalance starting and this member knowing its new partitions: nothing is handed out. */
  private rebalancing = false;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private stopListening: (() => void) | undefined;
  private readonly dirty = new Set<PartitionLedger>();
  private commitScheduled = false;
  private lastSettled = 0;
  /** Set while the fetch loop waits for room under `prefetch`. */
  private roomFreed: (() => void) | undefined;
  private committing: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts rebalances begun, so a slow `assigned` does not resume fetching during a newer one. */
  private rebalance = 0;
  /** Between the last commit before a JoinGroup and the assignment that follows it. */
  private joining = false;
  private memberId: string | null = null;
  /** Counts topics added, so a join that raced a newly found topic is made again. */
  private topicsAdded = 0;
  private rejoins = 0;
  private assigning: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: Cluster,
    private readonly consumer: Consumer,
    private readonly pool: ConnectionPool,
    private readonly spec: SubscribeSpec,
    deliver: Deliver,
    private readonly settings: ConsumerSettings,
    private readonly emit: (event: DriverEvent) => void,
    private readonly link: LinkState,
  ) {
    super((error) => this.lost(error));
    this.fetcher = { kafka: cluster.kafka, consumer, pool, maxBytes: settings.fetchMaxBytes, partitionMaxBytes: settings.partitionMaxBytes };
    this.start = startOf(spec.from, spec.pattern);
    const group = spec.group !== undefined;
    // The fetch loop goes on once half the room is free, not at every settle: one wake-up per
    // half a prefetch instead of one per message.
    const left = () => {
      if (this.deliveries.inFlight.size <= settings.prefetch / 2) this.roomFreed?.();
    };
    this.deliveries = new LocalDeliveries(spec.ackDeadlineMs, deliver, group ? { settled: (message) => this.settled(message), keep: (message) => this.owns(message), left } : { left });
    consumer.on('error', (error: unknown) => {
      this.reportError(kafkaFailure(error, 'the consumer failed', spec.pattern));
      // The client gives up on rejoining after its retries; the member must not stay out for good.
      if (group) this.rejoinLater();
    });
    if (group) {
      this.hookJoins();
      consumer.on('consumer:group:rebalance', () => this.rebalanceStarted());
      // Joins are handled one after another: each compares with what the one before left.
      consumer.on('consumer:group:join', (payload) => {
        this.assigning = this.assigning.then(() => this.assigned(payload.assignments ?? []));
      });
    }
  }

  /**
   * Resolves once the subscription reads (no group: its starting offsets are fixed) or has
   * asked to join its group; either way what is published after it is delivered.
   */
  async open(): Promise<void> {
    const { pattern } = this.spec;
    // A concrete topic is created now, so 'latest' means its end; without auto-creation the
    // subscription waits for it to appear, as a Kafka consumer does.
    if (!isWildcard(pattern) && this.cluster.createsTopics) await this.cluster.ensure(pattern);
    await this.addTopics(await this.cluster.matching(pattern), true);
    this.stopListening = this.cluster.onCreated((topic) => {
      if (matchesPattern(pattern, topic) && !this.topics.has(topic)) void this.addTopics([topic], false).catch((error) => this.reportError(error));
    });
    if (isWildcard(pattern) || this.topics.size === 0) {
      this.refreshTimer = setInterval(() => void this.refresh(), this.settings.topicRefreshMs);
      this.refreshTimer.unref?.();
    }
    this.wake();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    // Core hands back what never started only after close resolves; waiting for the last acks
    // goes on in the background (see `finished`), so the group is left once they are in.
    return this.closing.then(() => undefined);
  }

  /** Resolves when the consumer is gone: acks in, commits made, the group left. */
  finished: Promise<void> = Promise.resolve();

  private async shutdown(): Promise<void> {
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    if (this.rejoinTimer !== undefined) clearTimeout(this.rejoinTimer);
    this.stopListening?.();
    const stopping = this.stop();
    this.roomFreed?.();
    await stopping;
    this.deliveries.close();
    this.finished = this.leave();
  }

  private async leave(): Promise<void> {
    this.joining = false;
    if (this.spec.group !== undefined) {
      // Handlers still running may ack, and core gives back (nacks) what never started: the
      // group is left once nothing is out, or once settling stopped for a while (a manual-ack
      // subscriber may hold messages it will never settle), at most for the ack deadline.
      const deadline = Date.now() + this.spec.ackDeadlineMs;
      this.lastSettled = Date.now();
      while (this.deliveries.inFlight.size > 0 && Date.now() < deadline && Date.now() - this.lastSettled < DRAIN_IDLE_MS) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await this.flush();
      await this.committing;
      for (const held of this.held.values()) {
        held.released = true;
        held.ledger?.fail(new ConnectionError('kafka: the subscription closed before this ack could be committed; the message may be delivered again', { topic: held.topic }));
      }
      await Promise.resolve(this.consumer.leaveGroup(true)).catch(() => {});
    }
    await Promise.resolve(this.consumer.close(true)).catch(() => {});
    await this.pool.close().catch(() => {});
    this.link.back(this);
  }

  private reportError(error: unknown): void {
    this.emit({ type: 'error', driver: 'kafka', error });
  }

  private lost(error: unknown): void {
    this.link.lost(this, error);
  }

  private async refresh(): Promise<void> {
    try {
      const fresh = (await this.cluster.matching(this.spec.pattern)).filter((topic) => !this.topics.has(topic));
      if (fresh.length > 0) await this.addTopics(fresh, false);
      // A concrete topic that did not exist when subscribing: found, nothing more to look for.
      if (!isWildcard(this.spec.pattern) && this.topics.size > 0) clearInterval(this.refreshTimer);
    } catch (error) {
      if (!this.closed) this.reportError(error);
    }
  }

  /** Starts reading `topics`: holds their partitions (no group) or rejoins with them (group). */
  private async addTopics(topics: string[], initial: boolean): Promise<void> {
    const fresh = topics.filter((topic) => !this.topics.has(topic));
    if (fresh.length === 0 || this.closed) return;
    for (const topic of fresh) this.topics.add(topic);
    if (this.spec.group === undefined) {
      try {
        const counts = await this.cluster.partitions(fresh);
        const wanted = fresh.flatMap((topic) => Array.from({ length: counts.get(topic) ?? 0 }, (_, partition) => ({ topic, partition })));
        const offsets = await this.startOffsets(wanted, initial);
        for (const { topic, partition } of wanted) this.held.set(key(topic, partition), this.fresh(topic, partition, offsets.get(key(topic, partition)) ?? 0n));
      } catch (error) {
        // Forgotten again, so the next refresh tries these topics once more.
        for (const topic of fresh) this.topics.delete(topic);
        throw error;
      }
      this.wake();
      return;
    }
    for (const topic of fresh) this.consumer.topics.track(topic);
    this.topicsAdded++;
    // Not awaited: the join completes when every member rejoined, and a member may be waiting
    // for this very caller (its handler) before it lets go of its partitions (`beforeJoin`).
    // Where a new group starts does not depend on when the join completes (`assigned`).
    this.join().catch((error) => {
      this.reportError(kafkaFailure(error, 'joining the group failed', this.spec.pattern));
      this.rejoinLater();
    });
  }

  /** Joins with the topics tracked now; once more if topics were found while a join was under way (the client folds it into that join, which named the old ones). */
  private async join(): Promise<void> {
    const { sessionTimeoutMs, heartbeatIntervalMs, rebalanceTimeoutMs } = this.settings;
    let added: number;
    do {
      added = this.topicsAdded;
      await this.consumer.joinGroup({ sessionTimeout: sessionTimeoutMs, heartbeatInterval: heartbeatIntervalMs, rebalanceTimeout: rebalanceTimeoutMs });
    } while (added !== this.topicsAdded && !this.closed);
  }

  /** Joins the group again after the client gave up, backing off until it is back. */
  private rejoinLater(): void {
    if (this.closed || this.rejoinTimer !== undefined) return;
    this.rebalance++;
    this.rebalancing = true;
    this.roomFreed?.();
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = undefined;
      if (this.closed) return;
      this.join().then(
        () => (this.rejoins = 0),
        (error) => {
          this.lost(error);
          this.rejoinLater();
        },
      );
    }, backoffDelay(++this.rejoins, { initialMs: 200, maxMs: 5_000 }));
    this.rejoinTimer.unref?.();
  }

  /**
   * Where each partition starts. `latest` is the end now for topics known when subscribing;
   * for topics found later it is the first record published after subscribing.
   */
  private async startOffsets(wanted: Array<{ topic: string; partition: number }>, initial: boolean): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>();
    if (wanted.length === 0) return result;
    const topics = [...new Set(wanted.map((w) => w.topic))];
    const start = this.start;
    // The ends first: a partition with nothing at or after the time starts at its end as it
    // was before the lookup, so nothing arriving in between is skipped.
    const ends = await this.offsetsAt(topics, -1n);
    let timestamp: bigint | undefined;
    if (start.kind === 'earliest') timestamp = -2n;
    else if (start.kind === 'latest') timestamp = initial ? undefined : BigInt(this.subscribedAt);
    else if (start.kind === 'time') timestamp = BigInt(start.ms);
    else timestamp = BigInt((this.seqRecord ??= await this.recordAt(start.at.topic, start.at.partition, start.at.offset)).time);
    const found = timestamp === undefined ? ends : await this.offsetsAt(topics, timestamp);
    for (const { topic, partition } of wanted) {
      let offset = found.get(topic)?.[partition] ?? -1n;
      if (start.kind === 'seq' && start.at.topic === topic && start.at.partition === partition) offset = start.at.offset;
      if (offset < 0n) offset = ends.get(topic)?.[partition] ?? 0n;
      result.set(key(topic, partition), offset);
    }
    return result;
  }

  private offsetsAt(topics: string[], timestamp: bigint): Promise<Map<string, bigint[]>> {
    return offsetsAt(this.consumer, topics, timestamp, this.spec.pattern);
  }

  /** The timestamp of the record at `offset`, for a seq's other partitions; now if there is none. */
  /** The record at `offset` (a fetch starts at its batch), for a seq's other partitions; now if there is none. */
  private async recordAt(topic: string, partition: number, offset: bigint): Promise<SeqRecord> {
    const records = await fetchRecords(this.fetcher, [{ topic, partition, next: offset }], 0);
    const record = records.find((fetched) => fetched.offset >= offset);
    return { topic, partition, time: record?.time ?? Date.now(), id: record?.message?.id ?? '' };
  }

  /** Where a partition not yet read starts: `offset`, and for a seq's other partitions, after the seq's record. */
  private fresh(topic: string, partition: number, offset: bigint, ledger?: PartitionLedger): Held {
    const seq = this.seqRecord;
    const after = seq !== undefined && (seq.topic !== topic || seq.partition !== partition) ? seq : undefined;
    return { topic, partition, next: offset, after, ledger };
  }

  /**
   * Kafka's Java consumer gives up its partitions only after its revoke callback ran; this
   * client rejoins at once. So every JoinGroup request this consumer sends first waits for
   * what it handed out to settle and commits it (see `beforeJoin`), through the client's
   * exported `kGetApi` hook, which is how it finds the request to send.
   */
  private hookJoins(): void {
    type GetApi = (name: string, callback: (error: unknown, api?: unknown) => void) => void;
    const internals = this.consumer as unknown as Record<symbol, GetApi>;
    const kGetApi = this.cluster.kafka.kGetApi;
    const getApi = internals[kGetApi].bind(this.consumer);
    internals[kGetApi] = (name, callback) => {
      if (name !== 'JoinGroup') return getApi(name, callback);
      this.beforeJoin().then(() => getApi(name, callback), callback);
    };
  }

  /**
   * Before (re)joining, while Kafka still takes this generation's commits: stop handing out,
   * let what is out settle (until nothing is out, or nothing settled for a second, at most
   * half the rebalance timeout so the group does not drop this member), then commit.
   */
  private async beforeJoin(): Promise<void> {
    this.rebalance++;
    this.rebalancing = true;
    this.roomFreed?.();
    if (this.held.size === 0) return;
    // The client stops heartbeating while it joins: a drain past the session timeout would get
    // this member dropped from the group.
    const { sessionTimeoutMs, heartbeatIntervalMs, rebalanceTimeoutMs } = this.settings;
    const deadline = Date.now() + Math.min(this.spec.ackDeadlineMs, rebalanceTimeoutMs / 2, sessionTimeoutMs - 2 * heartbeatIntervalMs);
    this.lastSettled = Date.now();
    while (this.deliveries.inFlight.size > 0 && Date.now() < deadline && Date.now() - this.lastSettled < DRAIN_IDLE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.flush();
    // From here the client may already carry the next generation, under which Kafka would take
    // a commit for a partition that moved: commits wait for the assignment (`assigned`).
    this.joining = true;
  }

  private rebalanceStarted(): void {
    this.rebalance++;
    this.rebalancing = true;
    this.roomFreed?.();
    // Kafka still takes commits of the old generation until every member rejoined.
    void this.flush();
  }

  /** A join completed: lets go of partitions now elsewhere and starts the new ones at the group's offsets. */
  private async assigned(assignments: GroupAssignment[]): Promise<void> {
    const rebalance = this.rebalance;
    const now = new Set(assignments.flatMap(({ topic, partitions }) => partitions.map((partition) => key(topic, partition))));
    // A member the group dropped (a new member id) and let back in knows nothing it held before:
    // another member may have read and committed past it meanwhile.
    const sameMember = this.memberId === this.consumer.memberId;
    this.memberId = this.consumer.memberId;
    for (const [id, held] of this.held) {
      if (now.has(id) && sameMember) continue;
      this.held.delete(id);
      held.released = true;
      held.ledger?.fail(new ConnectionError(`kafka: partition ${id} went to another group member before this ack was committed; it may be delivered again`, { topic: held.topic }));
      this.dirty.delete(held.ledger!);
    }
    const wanted = assignments.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))).filter(({ topic, partition }) => !this.held.has(key(topic, partition)));
    try {
      if (wanted.length > 0) {
        const byTopic = new Map<string, number[]>();
        for (const { topic, partition } of wanted) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
        const committed = await committedOffsets(this.cluster.admin, this.spec.group!, byTopic);
        const uncommitted = wanted.filter(({ topic, partition }) => !committed.has(key(topic, partition)));
        // A group with no commit yet reads what was published since this member subscribed.
        const fallback = await this.startOffsets(uncommitted, false);
        for (const { topic, partition } of wanted) {
          const id = key(topic, partition);
          const at = committed.get(id);
          const offset = at?.offset ?? fallback.get(id) ?? 0n;
          const ledger = new PartitionLedger(topic, partition, offset, decodeOffsets(offset, at?.metadata), at);
          this.held.set(id, at === undefined ? this.fresh(topic, partition, offset, ledger) : { topic, partition, next: offset, ledger });
          // A start the group never committed is committed now, so a member taking the
          // partition over later starts where this one did, not at its own subscribe time.
          if (at === undefined) this.dirty.add(ledger);
        }
      }
      this.joining = false;
      if (rebalance !== this.rebalance) return; // another rebalance began meanwhile: its join decides
      this.rebalancing = false;
      await this.flush();
      this.wake();
    } catch (error) {
      this.joining = false;
      this.reportError(kafkaFailure(error, 'reading the group offsets failed', this.spec.pattern));
      // Partitions the group counts as this member's must not stay unread: join again.
      this.rejoinLater();
    }
  }

  /** Whether `message`'s partition is still this subscription's (a group member may lose it in a rebalance). */
  owns(message: WireMessage): boolean {
    const fetched = fetchedOf(message);
    return fetched !== undefined && !fetched.position.released;
  }

  /** An ack (or reject) of a group's message: resolves once the group's commit covers it. */
  private settled(message: WireMessage): Promise<void> {
    const fetched = fetchedOf(message);
    if (fetched === undefined || !this.owns(message)) {
      return Promise.reject(new ConnectionError(`kafka: ${message.topic} partition went to another group member before this ack; the message may be delivered again`, { topic: message.topic }));
    }
    const ledger = fetched.position.ledger!;
    this.lastSettled = Date.now();
    const done = ledger.settle(fetched.offset);
    this.dirty.add(ledger);
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      afterThisTurn(() => void this.flush());
    }
    return done;
  }

  /** Commits what was settled since the last commit; one commit at a time, in order. */
  private flush(): Promise<void> {
    this.commitScheduled = false;
    if (this.joining) return this.committing;
    const ledgers = [...this.dirty];
    this.dirty.clear();
    const next = this.committing.then(() => this.commit(ledgers));
    this.committing = next;
    return next;
  }

  private async commit(ledgers: PartitionLedger[]): Promise<void> {
    const entries: Array<CommitEntry & { ledger: PartitionLedger }> = [];
    for (const ledger of ledgers) {
      const point = ledger.pending();
      if (point !== undefined) entries.push({ topic: ledger.topic, partition: ledger.partition, ...point, ledger });
      else if (ledger.waiting > 0) ledger.committedAt(ledger.committed);
    }
    if (entries.length === 0) return;
    try {
      await commitOffsets(this.cluster.kafka, this.consumer, entries);
      for (const entry of entries) entry.ledger.committedAt({ offset: entry.offset, metadata: entry.metadata });
    } catch (error) {
      const failed = new ConnectionError(`kafka: committing the group's offsets failed (${(error as Error).message}); the messages may be delivered again`, {
        topic: entries[0].topic,
        cause: error,
      });
      for (const entry of entries) {
        entry.ledger.fail(failed);
        // Still to be committed: by the next commit, or at the latest when the member leaves.
        this.dirty.add(entry.ledger);
      }
    }
  }

  /** One fetch from every leader of the held partitions, handed to core in offset order. */
  protected async pass(): Promise<boolean> {
    if (this.rebalancing || this.held.size === 0) return false;
    const held = [...this.held.values()];
    const records = inPublishOrder(await fetchRecords(this.fetcher, held, this.settings.fetchMaxWaitMs));
    this.link.back(this);
    for (const record of records) {
      const current = record.position as Held;
      if (current.released || this.rebalancing || this.closed) continue;
      if (record.offset < current.next) continue;
      if (current.after !== undefined && record.message !== undefined) {
        const { time, id } = current.after;
        if (record.time < time || (record.time === time && record.message.id < id)) record.message = undefined; // published before the seq's record
        else current.after = undefined;
      }
      if (record.message === undefined) {
        current.next = record.offset + 1n;
        current.ledger?.advance(record.offset + 1n);
        continue;
      }
      // At most `prefetch` out at once: what waits here can still be dropped on a rebalance,
      // what core holds must be settled before this member lets go of its partitions.
      while (this.deliveries.inFlight.size >= this.settings.prefetch && !this.rebalancing && !this.closed) {
        await new Promise<void>((resolve) => (this.roomFreed = resolve));
        this.roomFreed = undefined;
      }
      if (current.released || this.rebalancing || this.closed) continue;
      current.next = record.offset + 1n;
      if (current.ledger !== undefined && !current.ledger.hand(record.offset)) continue;
      (record.message as Positioned)[POSITION] = record as Fetched & { position: Held };
      const handed = this.deliveries.hand(record.message);
      if (handed !== undefined) await handed;
    }
    return !this.closed;
  }
}
