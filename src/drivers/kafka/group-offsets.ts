// A group's committed offsets with their metadata. The client's own commit() leaves the
// metadata empty, so commits go out as the OffsetCommit request it would send, on the
// coordinator connection of the member's own consumer (a commit must carry the member's
// generation); the metadata lists the offsets settled past the commit point (ledger.ts).

import type { Admin, CallbackWithPromise, Consumer } from '@platformatic/kafka';
import type { KafkaModule } from './cluster.js';

export interface CommitEntry {
  topic: string;
  partition: number;
  offset: bigint;
  metadata: string;
}

export interface Committed {
  offset: bigint;
  metadata: string;
}

type Call = (...args: unknown[]) => void;

/** Commits `entries` for `consumer`'s group, as of the generation it is in now. */
export async function commitOffsets(kafka: KafkaModule, consumer: Consumer, entries: CommitEntry[]): Promise<void> {
  const generation = consumer.generationId;
  const memberId = consumer.memberId;
  const coordinator = await consumer.findGroupCoordinator();
  const metadata = await consumer.metadata({ topics: [...new Set(entries.map((entry) => entry.topic))] });
  const broker = metadata.brokers.get(coordinator);
  if (broker === undefined) throw new Error(`kafka: the group coordinator (node ${coordinator}) is not in the cluster metadata`);
  const internals = consumer as unknown as Record<symbol, Call>;
  const connection = await new Promise((resolve, reject) =>
    internals[kafka.kGetConnection].call(consumer, broker, (error: unknown, value: unknown) => (error ? reject(error) : resolve(value))),
  );
  const api = await new Promise<Call>((resolve, reject) =>
    internals[kafka.kGetApi].call(consumer, 'OffsetCommit', (error: unknown, value: Call) => (error ? reject(error) : resolve(value))),
  );
  const topics = new Map<string, { name: string; partitions: unknown[] }>();
  for (const entry of entries) {
    let topic = topics.get(entry.topic);
    if (topic === undefined) topics.set(entry.topic, (topic = { name: entry.topic, partitions: [] }));
    topic.partitions.push({ partitionIndex: entry.partition, committedOffset: entry.offset, committedLeaderEpoch: -1, committedMetadata: entry.metadata });
  }
  const response = await new Promise<{ topics: Array<{ partitions: Array<{ errorCode: number }> }> }>((resolve, reject) => {
    const done: CallbackWithPromise<never> = (error, value) => (error ? reject(error) : resolve(value as never));
    api(connection, consumer.groupId, generation, memberId, null, [...topics.values()], done);
  });
  const failed = response.topics.flatMap((topic) => topic.partitions).find((partition) => partition.errorCode !== 0);
  if (failed !== undefined) throw new Error(`kafka: the offset commit failed with error code ${failed.errorCode}`);
}

/** What `group` committed for each partition of `topics`, by `<topic>:<partition>`. */
export async function committedOffsets(admin: Admin, group: string, topics: Map<string, number[]>): Promise<Map<string, Committed>> {
  const [answer] = await admin.listConsumerGroupOffsets({
    groups: [{ groupId: group, topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
  });
  const committed = new Map<string, Committed>();
  for (const topic of answer?.topics ?? []) {
    for (const partition of topic.partitions) {
      if (partition.committedOffset >= 0n) committed.set(`${topic.name}:${partition.partitionIndex}`, { offset: partition.committedOffset, metadata: partition.metadata ?? '' });
    }
  }
  return committed;
}
