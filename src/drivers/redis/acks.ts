// Group acks: everything settled in one turn of the event loop goes to Redis as one XACK per
// stream and group, and each ack resolves with that XACK's answer, not before: once it
// resolves, no member of the group gets the entry again (docs/redis.md, "What a resolved
// ack() means").

import type { Redis } from 'ioredis';
import { ClosedError, ConnectionError } from '../../core/index.js';
import { isConnectionError } from './connection.js';
import type { Keys } from './layout.js';
import { TurnBatches } from '../../driver-kit/turn.js';

export class AckQueue {
  /** Keyed by stream and group, `\u0000` between them. */
  private readonly batches = new TurnBatches<string, string>((batchKey, ids) => this.send(batchKey, ids));

  constructor(
    private readonly keys: Keys,
    /** The command connection, undefined before the driver connected. */
    private readonly connection: () => Redis | undefined,
  ) {}

  /** Queues the ack of entry `id`; resolves once Redis answered the XACK carrying it. */
  add(key: string, group: string, id: string): Promise<void> {
    return this.batches.add(`${key}\u0000${group}`, id);
  }

  /** Sends what is queued; resolves when every XACK sent so far has been answered or has failed. */
  flush(): Promise<void> {
    return this.batches.flush();
  }

  private async send(batchKey: string, ids: string[]): Promise<void> {
    const [key, group] = batchKey.split('\u0000');
    const connection = this.connection();
    try {
      if (connection === undefined) throw new ConnectionError('the redis driver is not connected yet');
      await connection.call('XACK', key, group, ...ids);
    } catch (error) {
      throw this.failure(error, key, group, ids);
    }
  }

  /** What an ack without an answer rejects with: its caller learns the entry may come back. */
  private failure(error: unknown, key: string, group: string, ids: string[]): ConnectionError {
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
