// A subscription without a group: it reads every shard of its stream from its own `from`,
// keeps no checkpoint, and redelivers nacked or lapsed messages from memory.

import type { Deliver, SubscribeSpec } from '../../core/driver.js';
import { LocalDeliveries } from '../../core/local-deliveries.js';
import { matchesPattern } from '../../core/topic.js';
import { before, StreamReader, type Received } from './reader.js';
import type { Starts } from './starts.js';

export class FanOut {
  private readonly reader: StreamReader;
  private readonly deliveries: LocalDeliveries;
  private starts!: Starts;

  constructor(
    private readonly spec: SubscribeSpec,
    reader: (take: (records: Received[]) => Promise<void>) => StreamReader,
    deliver: Deliver,
  ) {
    this.reader = reader((records) => this.take(records));
    this.deliveries = new LocalDeliveries(spec.ackDeadlineMs, deliver);
  }

  /** Resolves once every shard's iterator is in hand: 'latest' starts here. */
  async open(shards: string[], starts: Starts): Promise<void> {
    this.starts = starts;
    await Promise.all(shards.map((shard) => this.reader.add(shard, starts.of(shard))));
    this.reader.wake();
  }

  async close(): Promise<void> {
    await this.reader.stop();
    this.deliveries.close();
  }

  private async take(records: Received[]): Promise<void> {
    const { floor } = this.starts;
    for (const record of records) {
      if (floor !== undefined && before(record, floor)) continue;
      if (matchesPattern(this.spec.pattern, record.message.topic)) await this.deliveries.hand(record.message);
    }
  }
}
