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

  /** Tells `listener` of topics this driver creates, so its own wildcard subscriptions need not wait for a refresh. */
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
    if (await this.hasLeaders(topic)) return;
    if (!this.settings.autoCreateTopics) {
      throw new RefusedError(`kafka: topic '${topic}' does not exist and autoCreateTopics is false; create it first`, { topic });
    }
    try {
      await this.admin.createTopics({
        topics: [topic],
        partitions: this.settings.partitions,
        replicas: this.settings.replicationFactor,
        configs: Object.entries(this.settings.topicConfig).map(([name, value]) => ({ name, value })),
      });
    } catch (error) {
      // Another process (or driver) created it first: as good as ours.
      if (!codes(error).has('TOPIC_ALREADY_EXISTS')) {
        const failed = kafkaFailure(error, `creating topic '${topic}' failed`, topic);
        if (codes(error).has('INVALID_CONFIG')) throw new ConfigurationError(failed.message, { topic, cause: error });
        throw failed;
      }
    }
    // A new topic's partitions get leaders a moment after CreateTopics answers.
    for (let waited = 0; !(await this.hasLeaders(topic)); waited += 50) {
      if (waited > 10_000) throw kafkaFailure(new Error('no partition leader after 10 s'), `topic '${topic}' was created`, topic);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const listener of this.createdListeners) listener(topic);
  }

  private async hasLeaders(topic: string): Promise<boolean> {
    try {
      const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true, autocreateTopics: false });
      const known = metadata.topics.get(topic);
      const ready = known !== undefined && known.partitions.length > 0 && known.partitions.every((partition) => partition.leader >= 0);
      if (ready) this.counts.set(topic, known.partitionsCount);
      return ready;
    } catch (error) {
      // The client says 'Unknown topic <name>.' (a UserError) for a topic metadata does not list.
      const unknown = /^Unknown topic /.test((error as Error)?.message ?? '');
      if (unknown || codes(error).has('UNKNOWN_TOPIC_OR_PARTITION') || codes(error).has('LEADER_NOT_AVAILABLE')) return false;
      throw kafkaFailure(error, `looking up topic '${topic}' failed`, topic);
    }
  }
}
