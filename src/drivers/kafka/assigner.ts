// How the group leader spreads partitions: round-robin over the members that subscribed to
// each topic. The client's default uses the leader's own topic list for everyone, which goes
// wrong while members of a wildcard subscription have found different topics, or when one
// group name reads two patterns.

import type { ClusterMetadata, ExtendedGroupProtocolSubscription, GroupAssignment, GroupPartitionsAssignments } from '@platformatic/kafka';

export function assignBySubscription(
  _leader: string,
  members: Map<string, ExtendedGroupProtocolSubscription>,
  leaderTopics: Set<string>,
  metadata: ClusterMetadata,
): GroupPartitionsAssignments[] {
  const result = new Map<string, Map<string, GroupAssignment>>();
  for (const memberId of [...members.keys()].sort()) result.set(memberId, new Map());
  const topics = new Set<string>(leaderTopics);
  for (const member of members.values()) for (const topic of member.topics ?? []) topics.add(topic);
  let turn = 0;
  for (const topic of [...topics].sort()) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const readers = [...members.keys()].sort().filter((id) => members.get(id)?.topics?.includes(topic) ?? leaderTopics.has(topic));
    if (readers.length === 0) continue;
    for (let partition = 0; partition < count; partition++) {
      const assignments = result.get(readers[turn++ % readers.length])!;
      const assignment = assignments.get(topic) ?? { topic, partitions: [] };
      assignment.partitions.push(partition);
      assignments.set(topic, assignment);
    }
  }
  return [...result].map(([memberId, assignments]) => ({ memberId, assignments }));
}
