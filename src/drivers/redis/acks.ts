// Group acks: everything settled in one turn of the event loop goes to Redis as one XACK per
// stream and group, and each ack resolves with that XACK's answer, not before: once it
// resolves, no member of the group gets the entry again (docs/redis.md, "What a resolved
// ack() means").

import type { Redis } from 'ioredis';
import { ClosedError, ConnectionError } from '../../core/index.js';
import { isConnectionError } from './connection.js';
import type { Keys } from './layout.js';

interface Batch {
  key: string;
  group: string;
  ids: string[];
  answered: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class AckQueue {
  private readonly queued = new Map<string, Batch>();
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly keys: Keys,
    /** The command connection, undefined before the driver connected. */
    private readonly connection: () => Redis | undefined,
  ) {}

  /** Queues the ack of entry `id`; resolves once Redis answered the XACK carrying it. */
  add(key: string, group: string, id: string): Promise<void> {
    const batchKey = `${key}\u0000${group}`;
    let batch = this.queued.get(batchKey);
    if (batch === undefined) {
      if (this.queued.size === 0) setImmediate(() => void this.flush());
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const answered = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
      batch = { key, group, ids: [], answered, resolve, reject };
      this.queued.set(batchKey, batch);
    }
    batch.ids.push(id);
    return batch.answered;
  }

  /** Sends what is queued; resolves when every XACK sent so far has been answered or has failed. */
  async flush(): Promise<void> {
    const batches = [...this.queued.values()];
    this.queued.clear();
    for (const batch of batches) {
      const { key, group, ids } = batch;
      const connection = this.connection();
      const sent = connection === undefined ? Promise.reject(new ClosedError('the redis driver is not connected')) : connection.call('XACK', key, group, ...ids);
      const settled = sent.then(batch.resolve, (error) => batch.reject(this.failure(error, batch)));
      this.sending.add(settled);
      void settled.finally(() => this.sending.delete(settled));
    }
    await Promise.all(this.sending);
  }

  /** What an ack without an answer rejects with: its caller learns the entry may come back. */
  private failure(error: unknown, { key, group, ids }: Batch): ConnectionError {
    const stream = key.slice(this.keys.prefix.length);
    const reason = (error as Error)?.message ?? String(error);
    const what = isConnectionError(error) ? `got no answer, the server is unreachable (${reason})` : `failed: ${reason}`;
    return new ConnectionError(
      `redis: XACK of ${ids.length} entr${ids.length === 1 ? 'y' : 'ies'} of stream '${stream}' for group '${group}' ${what}; ` +
        'unless Redis recorded it, the group delivers them again after the ack deadline',
      { topic: stream, cause: error },
    );
  }
}
