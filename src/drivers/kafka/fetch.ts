// Reading records: one Fetch request per partition leader, from each partition's next
// offset, decoded into wire messages. Subscriptions and history reads share it.

import type { ConnectionPool, Consumer } from '@platformatic/kafka';
import type { WireMessage } from '../../core/driver.js';
import type { KafkaModule } from './cluster.js';
import { codes, kafkaFailure } from './errors.js';
import { fromRecord } from './wire.js';

export interface Fetcher {
  kafka: KafkaModule;
  consumer: Consumer;
  /** Fetches wait on the broker: a pool of their own keeps them off the group's connection. */
  pool: ConnectionPool;
  maxBytes: number;
  partitionMaxBytes: number;
}

export interface FetchPosition {
  topic: string;
  partition: number;
  /** The next offset to fetch. */
  next: bigint;
}

export interface Fetched {
  topic: string;
  partition: number;
  offset: bigint;
  time: number;
  /** Undefined for a transaction marker, which takes an offset but carries nothing. */
  message: WireMessage | undefined;
  /** The position it was fetched for. */
  position: FetchPosition;
}

/** Offsets per partition of each topic at `timestamp` (-1: the end, -2: the oldest retained). */
export async function offsetsAt(consumer: Consumer, topics: string[], timestamp: bigint, pattern: string): Promise<Map<string, bigint[]>> {
  try {
    return await consumer.listOffsets({ topics, timestamp });
  } catch (error) {
    throw kafkaFailure(error, 'looking up offsets failed', pattern);
  }
}

/**
 * Positions outside what their partition holds: below its oldest record (retention removed
 * what was to be read next) go on from the oldest; past its end (the log was truncated) from the end.
 */
async function intoRange(consumer: Consumer, positions: FetchPosition[]): Promise<void> {
  const topics = [...new Set(positions.map((p) => p.topic))];
  const [oldest, ends] = await Promise.all([offsetsAt(consumer, topics, -2n, topics[0]), offsetsAt(consumer, topics, -1n, topics[0])]);
  for (const position of positions) {
    const low = oldest.get(position.topic)?.[position.partition];
    const high = ends.get(position.topic)?.[position.partition];
    if (low !== undefined && position.next < low) position.next = low;
    else if (high !== undefined && position.next > high) position.next = high;
  }
}

/** Records from each position's `next` on, in offset order per partition; waits up to `maxWaitMs` for any. */
export async function fetchRecords(fetcher: Fetcher, positions: FetchPosition[], maxWaitMs: number): Promise<Fetched[]> {
  const { consumer } = fetcher;
  const topics = [...new Set(positions.map((p) => p.topic))];
  const metadata = await consumer.metadata({ topics });
  const byLeader = new Map<number, Map<string, FetchPosition[]>>();
  const names = new Map<string, string>();
  for (const position of positions) {
    const topic = metadata.topics.get(position.topic);
    const leader = topic?.partitions[position.partition]?.leader;
    if (topic === undefined || leader === undefined || leader < 0) continue;
    names.set(topic.id, position.topic);
    let leaderTopics = byLeader.get(leader);
    if (leaderTopics === undefined) byLeader.set(leader, (leaderTopics = new Map()));
    leaderTopics.set(topic.id, [...(leaderTopics.get(topic.id) ?? []), position]);
  }
  const answers = await Promise.all(
    [...byLeader].map(([node, leaderTopics]) => {
      const asked = [...leaderTopics.values()].flat();
      return consumer.fetch({
        node,
        maxWaitTime: maxWaitMs,
        minBytes: 1,
        maxBytes: fetcher.maxBytes,
        connectionPool: fetcher.pool,
        topics: [...leaderTopics].map(([topicId, partitions]) => ({
          topicId,
          partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.next, partitionMaxBytes: fetcher.partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })),
        })),
      }).catch(async (error: unknown) => {
        // The client fails the whole answer when one partition has an error.
        if (codes(error).has('OFFSET_OUT_OF_RANGE')) {
          await intoRange(consumer, asked);
          return undefined;
        }
        consumer.clearMetadata(); // the leader moved, say: the next fetch asks afresh
        throw error;
      });
    }),
  );
  const IS_CONTROL = fetcher.kafka.IS_CONTROL;
  const out: Fetched[] = [];
  for (const answer of answers) {
    if (answer === undefined) continue;
    for (const topicAnswer of answer.responses) {
      const topic = names.get(topicAnswer.topicId);
      if (topic === undefined) continue;
      for (const partitionAnswer of topicAnswer.partitions) {
        const partition = partitionAnswer.partitionIndex;
        const position = positions.find((p) => p.topic === topic && p.partition === partition);
        if (position === undefined) continue;
        for (const batch of partitionAnswer.records ?? []) {
          const control = (batch.attributes & IS_CONTROL) !== 0;
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            const timestamp = batch.firstTimestamp + record.timestampDelta;
            const message = control ? undefined : fromRecord(topic, partition, offset, timestamp, record);
            out.push({ topic, partition, offset, time: Number(timestamp), message, position });
          }
        }
      }
    }
  }
  return out;
}

/** Whether `a` was published before `b`, as far as record time (then id: UUIDv7s sort by time) tells. */
export function publishedBefore(a: Fetched, b: Fetched): boolean {
  if (a.time !== b.time) return a.time < b.time;
  return (a.message?.id ?? '') < (b.message?.id ?? '');
}

/**
 * The records of several partitions merged into one sequence by publish time, each
 * partition's own records kept in offset order: one key's order holds even where clocks
 * disagree, and messages without a key come out as they were published.
 */
export function inPublishOrder(records: Fetched[]): Fetched[] {
  const runs = new Map<FetchPosition, Fetched[]>();
  for (const record of records) {
    const run = runs.get(record.position);
    if (run === undefined) runs.set(record.position, [record]);
    else run.push(record);
  }
  if (runs.size <= 1) return records;
  const heads = [...runs.values()].map((run) => ({ run, at: 0 }));
  const merged: Fetched[] = [];
  while (merged.length < records.length) {
    let best: (typeof heads)[number] | undefined;
    for (const head of heads) {
      if (head.at < head.run.length && (best === undefined || publishedBefore(head.run[head.at], best.run[best.at]))) best = head;
    }
    merged.push(best!.run[best!.at++]);
  }
  return merged;
}
