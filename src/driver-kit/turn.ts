// Work gathered over one turn of the event loop and done together at its end: a burst of
// acks becomes one command, a burst of frames one socket write. Imports nothing from Node,
// so the browser client uses it too.

/** Runs `run` after this turn's I/O: setImmediate on Node, a zero timeout in browsers. */
export const afterThisTurn: (run: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (run) => void (globalThis as unknown as { setImmediate(run: () => void): unknown }).setImmediate(run)
    : (run) => void setTimeout(run, 0);

/** Items pushed during one turn, handed to `flush` together at its end (or at `flushNow`). */
export class TurnBuffer<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: (items: T[]) => void) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    afterThisTurn(() => this.flushNow());
  }

  flushNow(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.flush(items);
  }

  /** Forgets what is gathered (the connection it was for is gone). */
  clear(): void {
    this.items = [];
  }
}

interface Batch<T> {
  items: T[];
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Per key, the items added during one turn go to `send` as one batch; each `add` resolves
 * or rejects with its batch's send, so a caller learns when the broker answered.
 */
export class TurnBatches<K, T> {
  private queued = new Map<K, Batch<T>>();
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly send: (key: K, items: T[]) => Promise<void>) {}

  add(key: K, item: T): Promise<void> {
    let batch = this.queued.get(key);
    if (batch === undefined) {
      if (this.queued.size === 0) afterThisTurn(() => void this.flush());
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
      batch = { items: [], done, resolve, reject };
      this.queued.set(key, batch);
    }
    batch.items.push(item);
    return batch.done;
  }

  /** Sends what is gathered now; resolves once every batch sent so far has been answered or has failed. */
  async flush(): Promise<void> {
    const batches = this.queued;
    this.queued = new Map();
    for (const [key, batch] of batches) {
      let sent: Promise<void>;
      try {
        sent = this.send(key, batch.items);
      } catch (error) {
        sent = Promise.reject(error);
      }
      const settled = sent.then(batch.resolve, batch.reject);
      this.sending.add(settled);
      void settled.finally(() => this.sending.delete(settled));
    }
    await Promise.all(this.sending);
  }
}
