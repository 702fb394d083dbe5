// The driver's shared clients and what it knows about the cluster's topics: which exist,
// creating them on first use, and which match a pattern (Kafka has no subject wildcards, so
// a pattern is matched against the topic list, listed again every `topicRefreshMs`).

import type { Admin } from '@platformatic/kafka';
import { ConfigurationError, InvalidTopicError, RefusedError } from '../../core/errors.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import { codes, kafkaFailure } from './errors.js';

export type KafkaModule = typeof import('@platformatic/kafka');

export interface TopicSettings {
  autoCreateTopics: boolean;
  partitions: number;
  replicationFactor: number;
  topicConfig: Record<string, string>;
  /** The driver's own topic (delayed messages), matched only by its name, never by a wildcard. */
  hidden: string;
}

/** Kafka topic names: letters, digits, '.', '_' and '-', at most 249. */
const KAFKA_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export function checkKafkaName(topic: string): void {
  if (isWildcard(topic)) return;
  if (!KAFKA_NAME.test(topic)) {
    throw new InvalidTopicError(
      `kafka: topic '${topic}' is not a Kafka topic name; Kafka allows letters, digits, '.', '_' and '-' (no ':'), at most 249 characters`,
      topic,
      { topic },
    );
  }
}

/** What a partition's broker answers before it leads the partition. */
const NOT_LED_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER', 'UNKNOWN_LEADER_EPOCH', 'FENCED_LEADER_EPOCH', 'REPLICA_NOT_AVAILABLE']);

export class Cluster {
  private readonly ensured = new Map<string, Promise<void>>();
  private readonly counts = new Map<string, number>();
  private readonly createdListeners = new Set<(topic: string) => void>();

  constructor(
    readonly kafka: KafkaModule,
    readonly admin: Admin,
    private readonly settings: TopicSettings,
  ) {}

  /** Whether missing topics are created (`autoCreateTopics`). */
  get createsTopics(): boolean {
    return this.settings.autoCreateTopics;
  }

  /** Makes sure `topic` exists (creating it when allowed) and has a leader for every partition. */
  ensure(topic: string): Promise<void> {
    let ensuring = this.ensured.get(topic);
    if (ensuring === undefined) {
      ensuring = this.create(topic);
      this.ensured.set(topic, ensuring);
      ensuring.catch(() => this.ensured.delete(topic));
    }
    return ensuring;
  }

  /** Tells `listener` of each topic this driver made sure of by creating it (or finding it made), so its own wildcard subscriptions need not wait for a refresh. */
  onCreated(listener: (topic: string) => void): () => void {
    this.createdListeners.add(listener);
    return () => this.createdListeners.delete(listener);
  }

  /** The existing topics `pattern` matches (a concrete pattern: itself, if it exists). */
  async matching(pattern: string): Promise<string[]> {
    let topics: string[];
    try {
      topics = await this.admin.listTopics({ includeInternals: false });
    } catch (error) {
      throw kafkaFailure(error, 'listing topics failed', pattern);
    }
    const wildcard = isWildcard(pattern);
    return topics.filter((topic) => KAFKA_NAME.test(topic) && !topic.startsWith('__') && !(wildcard && topic === this.settings.hidden) && matchesPattern(pattern, topic));
  }

  /** The partitions of a topic `ensure` resolved for. */
  partitionCount(topic: string): number {
    const count = this.counts.get(topic);
    if (count === undefined) throw new Error(`kafka: topic '${topic}' was published to before it was ensured`);
    return count;
  }

  /** Partition count per topic, once each has a leader. */
  async partitions(topics: string[]): Promise<Map<string, number>> {
    const metadata = await this.admin.metadata({ topics, forceUpdate: true });
    const counts = new Map<string, number>();
    for (const topic of topics) {
      const known = metadata.topics.get(topic);
      if (known !== undefined) counts.set(topic, known.partitionsCount);
    }
    return counts;
  }

  private async create(topic: string): Promise<void> {
    if (!this.settings.autoCreateTopics) {
      if (await this.hasLeaders(topic)) return;
      throw new RefusedError(`kafka: topic '${topic}' does not exist and autoCreateTopics is false; create it first`, { topic });
    }
    // Created before it is looked up: the client spends its retries (about 750 ms) asking
    // metadata of a topic that does not exist, and an existing one costs one refusal.
    try {
      await this.admin.createTopics({
        topics: [topic],
        partitions: this.settings.partitions,
        replicas: this.settings.replicationFactor,
        configs: Object.entries(this.settings.topicConfig).map(([name, value]) => ({ name, value })),
      });
    } catch (error) {
      const found = codes(error);
      const failed = kafkaFailure(error, `creating topic '${topic}' failed`, topic);
      if (found.has('INVALID_CONFIG')) throw new ConfigurationError(failed.message, { topic, cause: error });
      // A client may write to topics it may not create.
      const mayNotCreate = found.has('TOPIC_AUTHORIZATION_FAILED') || found.has('CLUSTER_AUTHORIZATION_FAILED');
      if (mayNotCreate && (await this.hasLeaders(topic))) return;
      // Already there (made earlier, or just now by another process or driver): as good as ours.
      if (!found.has('TOPIC_ALREADY_EXISTS')) throw failed;
    }
    // A new topic's partitions get leaders a moment after CreateTopics answers.
    const deadline = Date.now() + 10_000;
    while (!(await this.hasLeaders(topic))) {
      if (Date.now() > deadline) throw kafkaFailure(new Error('no partition leader after 10 s'), `topic '${topic}' was created`, topic);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The delay topic is matched by its name only, never by a wildcard that hears of it here.
    if (topic !== this.settings.hidden) for (const listener of this.createdListeners) listener(topic);
  }

  /**
   * Whether every partition of `topic` has a leader that serves it. Metadata names a leader
   * before that broker has taken the partition over, and a produce sent in between is refused
   * with NOT_LEADER_OR_FOLLOWER (seen in CI, past the client's own retries), so each leader is
   * also asked for the partition's end offset, which it answers only once it leads.
   */
  private async hasLeaders(topic: string): Promise<boolean> {
    try {
      const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true, autocreateTopics: false });
      const known = metadata.topics.get(topic);
      if (known === undefined || known.partitions.length === 0 || known.partitions.some((partition) => partition.leader < 0)) return false;
      await this.admin.listOffsets({ topics: [{ name: topic, partitions: known.partitions.map((_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] });
      this.counts.set(topic, known.partitionsCount);
      return true;
    } catch (error) {
      // The client says 'Unknown topic <name>.' (a UserError) for a topic metadata does not list.
      const unknown = /^Unknown topic /.test((error as Error)?.message ?? '');
      if (unknown || [...codes(error)].some((code) => NOT_LED_YET.has(code))) return false;
      throw kafkaFailure(error, `looking up topic '${topic}' failed`, topic);
    }
  }
}
