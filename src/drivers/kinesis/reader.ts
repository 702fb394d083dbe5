// Reads a set of a stream's shards by polling GetRecords (Kinesis has no push to a plain
// client), and hands what each pass brought back merged in arrival order, each shard's own
// order kept, so one subscriber sees one order across shards as far as arrival times tell.

import type { KinesisClient, ShardIteratorType } from '@aws-sdk/client-kinesis';
import { BYTES_CONTENT_TYPE } from '../../core/codec.js';
import type { WireMessage } from '../../core/driver.js';
import { Pump } from '../../driver-kit/pump.js';
import { fromData } from './envelope.js';
import { kinesisFailure } from './errors.js';
import { formatSeq } from './position.js';
import type { KinesisModule } from './streams.js';

/** Where a shard's reading starts, as GetShardIterator takes it. */
export interface ShardStart {
  type: ShardIteratorType;
  sequence?: string;
}

/** A record as read: its message, and where and when Kinesis stored it. */
export interface Received {
  shard: string;
  sequence: string;
  /** ApproximateArrivalTimestamp, ms since the epoch. */
  arrival: number;
  message: WireMessage;
}

export interface ReaderSettings {
  /** How long an idle pass waits before asking again. */
  pollMs: number;
  /** Records per GetRecords call, at most. */
  batch: number;
}

interface Cursor {
  iterator: string | undefined;
  /** The last sequence number read, to ask for a fresh iterator after it. */
  after: string | undefined;
  start: ShardStart;
}

export class StreamReader extends Pump {
  private readonly cursors = new Map<string, Cursor>();
  /** The next pass's GetRecords, asked for while the last pass's records are delivered. */
  private prefetched: Promise<Array<{ records: Received[]; more: boolean }>> | undefined;

  constructor(
    private readonly sdk: KinesisModule,
    private readonly client: KinesisClient,
    readonly stream: string,
    /** The topic foreign records (not ours) get. */
    private readonly streamTopic: string,
    private readonly settings: ReaderSettings,
    /** Gets each pass's records, in order; the next pass waits for it. */
    private readonly take: (records: Received[]) => Promise<void>,
    report: (error: unknown) => void,
  ) {
    super(report);
  }

  /**
   * Adds `shard`, read from `start` once the reader is woken (`wake()`, after adding every shard
   * there is, so the first pass merges them all); resolves once its iterator is in hand, so
   * 'LATEST' means from now.
   */
  async add(shard: string, start: ShardStart): Promise<void> {
    const cursor: Cursor = { iterator: undefined, after: undefined, start };
    cursor.iterator = await this.iterator(shard, start);
    this.cursors.set(shard, cursor);
  }

  /** Stops reading `shard`: a pass under way may still hand its records. */
  remove(shard: string): void {
    this.cursors.delete(shard);
  }

  get shards(): string[] {
    return [...this.cursors.keys()];
  }

  protected async pass(): Promise<boolean> {
    const batches = await (this.prefetched ?? this.fetch());
    this.prefetched = undefined;
    if (this.closed) return false;
    const more = batches.some((batch) => batch.more);
    // While this pass's records go to the subscriber, the next ones are on their way.
    if (more) {
      this.prefetched = this.fetch();
      this.prefetched.catch(() => {});
    } else this.wakeIn(this.settings.pollMs);
    await this.take(merge(batches.map((batch) => batch.records)).filter((record) => this.cursors.has(record.shard)));
    return more;
  }

  private fetch(): Promise<Array<{ records: Received[]; more: boolean }>> {
    return Promise.all([...this.cursors].map(([shard, cursor]) => this.read(shard, cursor)));
  }

  private async read(shard: string, cursor: Cursor): Promise<{ records: Received[]; more: boolean }> {
    if (cursor.iterator === undefined) return { records: [], more: false };
    let output;
    try {
      output = await this.client.send(new this.sdk.GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: this.settings.batch }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ExpiredIteratorException') throw kinesisFailure(error, `reading shard ${shard} of stream '${this.stream}' failed`, this.streamTopic);
      // Iterators last five minutes: ask again from where this one got to.
      const start: ShardStart = cursor.after === undefined ? cursor.start : { type: 'AFTER_SEQUENCE_NUMBER', sequence: cursor.after };
      cursor.iterator = await this.iterator(shard, start);
      return { records: [], more: true };
    }
    // A closed shard (resharded) ends with no next iterator.
    cursor.iterator = output.NextShardIterator;
    const records: Received[] = [];
    for (const record of output.Records ?? []) {
      const sequence = record.SequenceNumber!;
      const seq = formatSeq(this.stream, shard, sequence);
      const arrival = record.ApproximateArrivalTimestamp?.getTime() ?? Date.now();
      const data = record.Data ?? new Uint8Array(0);
      const message = fromData(data, seq) ?? { id: seq, topic: this.streamTopic, headers: { 'content-type': BYTES_CONTENT_TYPE }, time: arrival, body: data };
      message.seq = seq;
      records.push({ shard, sequence, arrival, message });
      cursor.after = sequence;
    }
    return { records, more: records.length === this.settings.batch || (records.length > 0 && (output.MillisBehindLatest ?? 0) > 0) };
  }

  private async iterator(shard: string, start: ShardStart): Promise<string | undefined> {
    try {
      const { ShardIterator } = await this.client.send(
        new this.sdk.GetShardIteratorCommand({
          StreamName: this.stream,
          ShardId: shard,
          ShardIteratorType: start.type,
          StartingSequenceNumber: start.sequence,
        }),
      );
      return ShardIterator;
    } catch (error) {
      throw kinesisFailure(error, `starting to read shard ${shard} of stream '${this.stream}' failed`, this.streamTopic);
    }
  }
}

/** Merges per-shard runs into one, by arrival then id, each run's order kept. */
export function merge(runs: Received[][]): Received[] {
  const live = runs.filter((run) => run.length > 0);
  if (live.length <= 1) return live[0] ?? [];
  const at = live.map(() => 0);
  const out: Received[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < live.length; i++) {
      if (at[i] >= live[i].length) continue;
      if (best === -1 || before(live[i][at[i]], orderOf(live[best][at[best]]))) best = i;
    }
    if (best === -1) return out;
    out.push(live[best][at[best]++]);
  }
}

/** A record's place in the order a subscriber sees: arrival, then id. */
export interface Order {
  arrival: number;
  id: string;
}

function orderOf(record: Received): Order {
  return { arrival: record.arrival, id: record.message.id };
}

/** Whether `record` comes before `order`. */
export function before(record: Received, order: Order): boolean {
  return record.arrival !== order.arrival ? record.arrival < order.arrival : record.message.id < order.id;
}
