// A subscription without a group: XREAD from its own position in each stream, so every
// subscriber sees every message. Its position lives in this process only, so redelivery
// (nack, ack deadline) is too: Redis keeps no per-reader state for plain XREAD.

import type { Redis } from 'ioredis';
import { LocalDeliveries, matchesPattern } from '../../core/index.js';
import { parseEntry, positionBefore, positionBeforeTime } from './layout.js';
import { StreamReader, type Entry } from './reader.js';
import { lastIdsScript } from './scripts.js';

export class FanOutReader extends StreamReader {
  /** Where streams found after subscribing start; undefined for 'latest' (their beginning). */
  private startId: string | undefined;
  private deliveries: LocalDeliveries | undefined;

  protected async open(names: string[]): Promise<void> {
    const { from } = this.spec;
    if (from !== undefined && from !== 'latest') {
      this.startId =
        from === 'earliest' ? '0-0' : 'seq' in from ? positionBefore(from.seq) : positionBeforeTime(new Date(from.time).getTime());
    }
    const keys = names.map((name) => this.host.keys.stream(name));
    const positions =
      this.startId === undefined && keys.length > 0
        ? ((await lastIdsScript.run(this.host.client, keys, [])) as string[])
        : keys.map(() => this.startId ?? '0-0');
    keys.forEach((key, i) => this.streams.set(key, positions[i]));
    this.deliveries = new LocalDeliveries(this.spec.ackDeadlineMs, this.deliver);
  }

  protected async add(name: string): Promise<void> {
    // A stream created after subscribing holds only messages published after it.
    this.streams.set(this.host.keys.stream(name), this.startId ?? '0-0');
  }

  protected read(connection: Redis, keys: string[], positions: string[]): Promise<unknown> {
    const { batchSize, blockMs } = this.host;
    return connection.callBuffer('XREAD', 'COUNT', batchSize, 'BLOCK', blockMs, 'STREAMS', ...keys, ...positions);
  }

  protected async handle(key: string, entries: Entry[]): Promise<void> {
    const name = this.nameOf(key);
    for (const [rawId, fields] of entries) {
      if (this.closed) return;
      const id = rawId.toString();
      this.streams.set(key, id);
      const wire = fields === null ? undefined : parseEntry(id, fields, name);
      if (wire === undefined || (this.host.keys.shared && !matchesPattern(this.pattern, wire.topic))) continue;
      const wait = this.deliveries!.hand(wire);
      if (wait !== undefined) await wait;
    }
  }

  protected async recover(): Promise<boolean> {
    return false;
  }

  protected async stop(): Promise<void> {
    this.deliveries?.close();
  }
}
