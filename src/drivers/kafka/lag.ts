// A group's lag in Kafka: per partition of every topic the pattern matches, the end offset
// less the group's committed offset, less the offsets settled past the commit point that the
// commit's metadata lists (ledger.ts). Acks count once committed, which is when they resolve.

import type { LagSpec } from '../../core/driver.js';
import type { Cluster } from './cluster.js';
import { kafkaFailure } from './errors.js';
import { committedOffsets } from './group-offsets.js';
import { decodeOffsets } from './ledger.js';

/** ListOffsets' timestamp for the end of a partition. */
const LATEST = -1n;

export async function kafkaLag(cluster: Cluster, spec: LagSpec): Promise<number> {
  const topics = await cluster.matching(spec.pattern);
  if (topics.length === 0) return 0;
  try {
    const counts = await cluster.partitions(topics);
    const partitions = new Map([...counts].map(([topic, count]) => [topic, Array.from({ length: count }, (_, i) => i)]));
    const [committed, ends] = await Promise.all([
      committedOffsets(cluster.admin, spec.group, partitions),
      cluster.admin.listOffsets({
        topics: [...partitions].map(([name, indexes]) => ({ name, partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp: LATEST })) })),
      }),
    ]);
    let lag = 0n;
    for (const topic of ends) {
      for (const { partitionIndex, offset: end } of topic.partitions) {
        const at = committed.get(`${topic.name}:${partitionIndex}`);
        // Nothing committed: the group has not started on this partition, and starts at its end then.
        if (at === undefined) continue;
        let settledAhead = 0n;
        for (const offset of decodeOffsets(at.offset, at.metadata)) if (offset < end) settledAhead++;
        const behind = end - at.offset - settledAhead;
        if (behind > 0n) lag += behind;
      }
    }
    return Number(lag);
  } catch (error) {
    throw kafkaFailure(error, `reading the lag of group '${spec.group}' failed`, spec.pattern);
  }
}
