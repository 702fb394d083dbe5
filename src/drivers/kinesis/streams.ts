// Which stream holds a topic, and the streams themselves: a topic's first `streamTokens`
// tokens name its stream (after a prefix), created on first use with the configured shard
// count unless the user manages streams, and its open shards listed.

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { InvalidTopicError, OmnibusError } from '../../core/errors.js';
import { isWildcard } from '../../core/topic.js';
import { failure } from '../../driver-kit/failure.js';
import { kinesisFailure } from './errors.js';

export type KinesisModule = typeof import('@aws-sdk/client-kinesis');

export interface StreamNaming {
  prefix: string;
  tokens: number;
}

/** The stream of a topic, or of a pattern whose first `tokens` tokens are concrete; InvalidTopicError otherwise. */
export function streamOf(topic: string, naming: StreamNaming): string {
  const tokens = topic.split('.').slice(0, naming.tokens);
  for (const [index, token] of tokens.entries()) {
    if (isWildcard(token)) {
      throw new InvalidTopicError(
        `kinesis: pattern '${topic}' has the wildcard '${token}' at position ${index + 1}, among the first ${naming.tokens} token(s) that name its Kinesis stream; Kinesis has no wildcards across streams, so make those tokens concrete (or lower streamTokens)`,
        token,
        { topic },
      );
    }
    if (token.includes(':')) {
      throw new InvalidTopicError(`kinesis: topic '${topic}' has ':' in token '${token}' at position ${index + 1}, which names its Kinesis stream; stream names allow only letters, digits, '_', '-' and '.'`, token, { topic });
    }
  }
  const name = `${naming.prefix}${tokens.join('.')}`;
  if (name.length > 128) throw new InvalidTopicError(`kinesis: the stream name '${name}' for topic '${topic}' is longer than Kinesis's 128 characters; shorten the topic's first tokens or the prefix`, undefined, { topic });
  return name;
}

export class Streams {
  private readonly known = new Map<string, Promise<void>>();

  constructor(
    private readonly sdk: KinesisModule,
    readonly client: KinesisClient,
    private readonly settings: { createStreams: boolean; shards: number },
  ) {}

  /** Resolves once `stream` exists and is active, creating it first if allowed. */
  ensure(stream: string, topic: string): Promise<void> {
    let ready = this.known.get(stream);
    if (ready === undefined) {
      ready = this.open(stream, topic);
      this.known.set(stream, ready);
      ready.catch(() => this.known.delete(stream));
    }
    return ready;
  }

  /** The ids of the stream's open shards, in order. */
  async shards(stream: string, topic: string): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new this.sdk.ListShardsCommand(token === undefined ? { StreamName: stream } : { NextToken: token }));
        for (const shard of page.Shards ?? []) {
          if (shard.SequenceNumberRange?.EndingSequenceNumber === undefined && shard.ShardId !== undefined) ids.push(shard.ShardId);
        }
        token = page.NextToken;
      } while (token !== undefined);
    } catch (error) {
      throw kinesisFailure(error, `listing the shards of stream '${stream}' failed`, topic);
    }
    return ids;
  }

  private async open(stream: string, topic: string): Promise<void> {
    const { client, sdk } = this;
    try {
      const status = await this.status(stream);
      if (status === undefined) {
        if (!this.settings.createStreams) {
          throw failure('refused', `kinesis: stream '${stream}' (for topic '${topic}') does not exist and createStreams is false; create it, or set createStreams: true`, { topic });
        }
        await client.send(new sdk.CreateStreamCommand({ StreamName: stream, ShardCount: this.settings.shards })).catch((error: unknown) => {
          // Another process created it first.
          if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
        });
      }
      if (status !== 'ACTIVE') await sdk.waitUntilStreamExists({ client, maxWaitTime: 120, minDelay: 0.1, maxDelay: 1 }, { StreamName: stream });
    } catch (error) {
      if (error instanceof OmnibusError) throw error;
      throw kinesisFailure(error, `opening stream '${stream}' failed`, topic);
    }
  }

  private async status(stream: string): Promise<string | undefined> {
    try {
      const { StreamDescriptionSummary } = await this.client.send(new this.sdk.DescribeStreamSummaryCommand({ StreamName: stream }));
      return StreamDescriptionSummary?.StreamStatus;
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }
}
