// Publishing: every publish of one linger window (one event-loop turn by default) goes to
// Kafka as one produce request, and while a request is in flight the next ones gather, so
// 100 concurrent single publishes cost a few round trips, not 100. A request stays under
// `batchSize` bytes, which must fit the broker's `message.max.bytes`.

import type { Producer, ProduceResult } from '@platformatic/kafka';
import type { WireMessage } from '../../core/driver.js';
import { ConnectionError } from '../../core/errors.js';
import { Coalescer } from '../../driver-kit/coalescer.js';
import type { LinkState } from '../../driver-kit/link-state.js';
import { kafkaFailure } from './errors.js';
import { toRecord, type Outgoing } from './wire.js';

export interface PublisherSettings {
  lingerMs: number;
  batchSize: number;
}

/** Kafka's Java default: murmur2 of the key, made positive, modulo the partition count. */
export type KeyHash = (key: Buffer) => number;

export class Publisher {
  private readonly coalescer: Coalescer<Outgoing>;
  private lingering: { entries: Outgoing[]; done: Promise<void> } | undefined;
  private readonly roundRobin = new Map<string, number>();
  private resetSequences = false;

  constructor(
    private readonly producer: Producer,
    private readonly settings: PublisherSettings,
    /** Partitions of a topic already ensured. */
    private readonly partitionsOf: (topic: string) => number,
    private readonly hash: KeyHash,
    private readonly idempotent: boolean,
    private readonly link: LinkState,
  ) {
    // A failed combined request is never split and sent again: Kafka stores each partition on
    // its own, so the records of other partitions may be stored already. Core refuses messages
    // over maxPayloadBytes before they get here, the usual one bad record.
    this.coalescer = new Coalescer((entries) => this.send(entries), { maxItems: settings.batchSize, weight: (entry) => entry.size });
  }

  /** Hands `entries` over in requests of at most `batchSize` bytes, in order. */
  private add(entries: Outgoing[]): Promise<void> {
    const requests: Array<Promise<void>> = [];
    let start = 0;
    let size = 0;
    for (let i = 0; i < entries.length; i++) {
      if (i > start && size + entries[i].size > this.settings.batchSize) {
        requests.push(this.coalescer.add(entries.slice(start, i)));
        start = i;
        size = 0;
      }
      size += entries[i].size;
    }
    requests.push(this.coalescer.add(start === 0 ? entries : entries.slice(start)));
    return requests.length === 1 ? requests[0] : Promise.all(requests).then(() => undefined);
  }

  /** Resolves once Kafka stored every message (with the producer's acks), setting each `seq`. */
  publish(batch: WireMessage[]): Promise<void> {
    const entries = batch.map((wire) => toRecord(wire, this.partition(wire.topic, wire.key)));
    if (this.settings.lingerMs <= 0) return this.add(entries);
    // Linger: wait a little so more publishes share the request, as Kafka's `linger.ms`.
    if (this.lingering === undefined) {
      const gathered: Outgoing[] = [];
      const done = new Promise<void>((resolve) => setTimeout(resolve, this.settings.lingerMs)).then(() => {
        this.lingering = undefined;
        return this.add(gathered);
      });
      this.lingering = { entries: gathered, done };
    }
    this.lingering.entries.push(...entries);
    return this.lingering.done;
  }

  /**
   * The partition is chosen here, not by the client, so the seq of each message is known
   * from the answer, and one key lands where Java producers put it.
   */
  private partition(topic: string, key: string | undefined): number {
    const count = this.partitionsOf(topic);
    if (key !== undefined) return this.hash(Buffer.from(key)) % count;
    const next = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, (next + 1) % count);
    return next;
  }

  /** Resolves once every publish handed over so far has been answered. */
  async idle(): Promise<void> {
    await this.lingering?.done.catch(() => {});
    await this.coalescer.idle();
  }

  private async send(entries: Outgoing[]): Promise<void> {
    let result: ProduceResult;
    try {
      if (this.resetSequences) {
        await this.producer.initIdempotentProducer({});
        this.resetSequences = false;
      }
      result = await this.producer.send({ messages: entries.map((entry) => entry.record) });
    } catch (error) {
      // The client moves its idempotent sequence numbers on only with an answer. A request the
      // broker stored but never answered would make the next one, with the same numbers, look
      // like its duplicate (answered, not stored) or out of order for good. A new producer id
      // starts the numbers afresh.
      this.resetSequences = this.idempotent;
      const failed = kafkaFailure(error, `publishing ${entries.length} message${entries.length === 1 ? '' : 's'} failed`, entries[0]?.wire.topic);
      if (failed instanceof ConnectionError) this.link.lost('publisher', failed);
      throw failed;
    }
    this.link.back('publisher');
    assignSeqs(entries, result);
  }
}

/**
 * The produce answer gives each partition's base offset; records of one partition were
 * written in the order sent, so each gets the next offset.
 */
function assignSeqs(entries: Outgoing[], result: ProduceResult): void {
  // Per topic, indexed by partition: no key to build per message. Offsets as numbers (exact
  // below 2^53, which no partition reaches) after one prefix per partition.
  const next = new Map<string, Array<{ prefix: string; offset: number }>>();
  for (const { topic, partition, offset } of result.offsets ?? []) {
    let partitions = next.get(topic);
    if (partitions === undefined) next.set(topic, (partitions = []));
    partitions[partition] = { prefix: `${topic}:${partition}:`, offset: Number(offset) };
  }
  for (const { wire, record } of entries) {
    const position = next.get(record.topic)?.[record.partition];
    if (position === undefined) continue;
    wire.seq = position.prefix + position.offset++;
  }
}
