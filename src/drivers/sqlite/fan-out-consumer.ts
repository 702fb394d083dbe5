// A subscription without a group: it reads the log from its own position and tracks what
// it handed over in memory (it lives only as long as the subscription), redelivering on
// nack and past the ack deadline.

import type { Deliver } from '../../core/driver.js';
import { LocalDeliveries } from '../../core/local-deliveries.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import { toWire, type MessageLog } from './message-log.js';
import { Pump } from './pump.js';

const READ_BATCH = 256;

export class FanOutConsumer extends Pump {
  private readonly topic: string | undefined;
  private readonly deliveries: LocalDeliveries;

  constructor(
    private readonly log: MessageLog,
    private readonly pattern: string,
    private position: number,
    ackDeadlineMs: number,
    deliver: Deliver,
    report: (error: unknown) => void,
  ) {
    super(report);
    this.topic = isWildcard(pattern) ? undefined : pattern;
    this.deliveries = new LocalDeliveries(ackDeadlineMs, deliver);
  }

  protected async pass(): Promise<boolean> {
    const rows = this.log.read(this.position, READ_BATCH, this.topic);
    for (const row of rows) {
      if (this.closed) return false;
      this.position = row.seq;
      if (this.topic === undefined && !matchesPattern(this.pattern, row.topic)) continue;
      const wait = this.deliveries.hand(toWire(row));
      if (wait !== undefined) await wait;
    }
    return rows.length === READ_BATCH;
  }

  close(): void {
    this.stop();
    this.deliveries.close();
  }
}
