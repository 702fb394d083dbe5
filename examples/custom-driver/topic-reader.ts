// A subscription: a wake loop (the kit's Pump) that reads the lines appended to each
// matching topic file since the last pass and hands them to core. It is woken by publishes
// in this process and polls for those of other processes.

import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalDeliveries, matchesPattern, Pump, type Deliver, type SubscribeSpec } from '../../src/driver-kit/index.js';
import { fromLine, topicOf } from './lines.js';

export class TopicReader extends Pump {
  /** Bytes already handed over, per file. A file first seen after subscribing is read from its start. */
  private readonly offsets = new Map<string, number>();
  /** Redelivery on nack and on a lapsed ack deadline, kept in this process. */
  private readonly deliveries: LocalDeliveries;

  constructor(
    private readonly dir: string,
    private readonly spec: SubscribeSpec,
    deliver: Deliver,
    private readonly pollMs: number,
    report: (error: unknown) => void,
  ) {
    super(report);
    this.deliveries = new LocalDeliveries(spec.ackDeadlineMs, deliver);
  }

  /** 'latest': everything in the files now is behind us. */
  async start(): Promise<void> {
    for (const file of await this.files()) this.offsets.set(file, (await stat(join(this.dir, file))).size);
    this.wake();
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.deliveries.close();
  }

  protected async pass(): Promise<boolean> {
    for (const file of await this.files()) {
      if (this.closed) break;
      await this.readNew(file);
    }
    this.wakeIn(this.pollMs);
    return false;
  }

  private async files(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((name) => {
      const topic = topicOf(name);
      return topic !== undefined && matchesPattern(this.spec.pattern, topic);
    });
  }

  private async readNew(file: string): Promise<void> {
    const offset = this.offsets.get(file) ?? 0;
    const handle = await open(join(this.dir, file), 'r');
    let text: string;
    try {
      const { size } = await handle.stat();
      if (size <= offset) return;
      const buffer = Buffer.alloc(size - offset);
      await handle.read(buffer, 0, buffer.length, offset);
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
    // A line another process is still writing has no newline yet: leave it for the next pass.
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    this.offsets.set(file, offset + Buffer.byteLength(complete));
    for (const line of complete.split('\n')) {
      if (line === '' || this.closed) continue;
      await this.deliveries.hand(fromLine(line)); // a promise while the subscriber's buffer is full
    }
  }
}
