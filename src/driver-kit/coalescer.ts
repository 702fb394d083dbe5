// Few writes for many calls: the calls of one burst go as one write, and those arriving while
// writes are in flight go in the next, so concurrent publishes become one multi-row INSERT
// or one pipeline, and concurrent acks one DELETE.

interface Waiting<T> {
  items: T[];
  resolve(): void;
  reject(error: unknown): void;
}

export interface CoalescerOptions<T> {
  /** Items per write at most, counted by `weight`. */
  maxItems: number;
  /** Whether a failed write may be one bad item's fault: each caller's items are then written alone, so only the bad one fails. */
  split?: (error: unknown) => boolean;
  /** What an item counts for against `maxItems`: 1 by default, or its bytes. */
  weight?: (item: T) => number;
  /**
   * Writes in flight at once, 1 by default. More suit a connection that runs commands in the
   * order sent (Redis): one write travels while the last is answered, and what waits is
   * shared out between the free slots.
   */
  inFlight?: number;
}

export class Coalescer<T> {
  private queue: Array<Waiting<T>> = [];
  private readonly writing = new Set<Promise<void>>();
  private scheduled = false;
  private readonly maxItems: number;
  private readonly split: (error: unknown) => boolean;
  private readonly weight: (item: T) => number;
  private readonly inFlight: number;

  /** `run` stores one combined batch. */
  constructor(
    private readonly run: (items: T[]) => Promise<void>,
    options: CoalescerOptions<T>,
  ) {
    this.maxItems = options.maxItems;
    this.split = options.split ?? (() => false);
    this.weight = options.weight ?? (() => 1);
    this.inFlight = options.inFlight ?? 1;
  }

  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (this.scheduled) return;
      // One microtask later, so the calls of one burst go together, not the first one alone.
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.start();
      });
    });
  }

  /** Resolves once everything added so far has been stored or has failed. */
  async idle(): Promise<void> {
    while (this.scheduled || this.writing.size > 0) await Promise.all([...this.writing, Promise.resolve()]);
  }

  private start(): void {
    while (this.writing.size < this.inFlight && this.queue.length > 0) {
      const free = this.inFlight - this.writing.size;
      const limit = free === 1 ? this.maxItems : Math.min(this.maxItems, Math.ceil(this.queued() / free));
      const taken: Array<Waiting<T>> = [];
      let count = 0;
      while (this.queue.length > 0 && (taken.length === 0 || count + this.weigh(this.queue[0].items) <= limit)) {
        const next = this.queue.shift()!;
        taken.push(next);
        count += this.weigh(next.items);
      }
      const write: Promise<void> = this.store(taken).finally(() => {
        this.writing.delete(write);
        this.start();
      });
      this.writing.add(write);
    }
  }

  private queued(): number {
    let total = 0;
    for (const waiting of this.queue) total += this.weigh(waiting.items);
    return total;
  }

  private weigh(items: T[]): number {
    let total = 0;
    for (const item of items) total += this.weight(item);
    return total;
  }

  /** Never rejects: each caller's promise carries the outcome. */
  private async store(taken: Array<Waiting<T>>): Promise<void> {
    try {
      await this.run(taken.length === 1 ? taken[0].items : taken.flatMap((waiting) => waiting.items));
      for (const waiting of taken) waiting.resolve();
    } catch (error) {
      if (taken.length > 1 && this.split(error)) {
        for (const waiting of taken) await this.store([waiting]);
        return;
      }
      for (const waiting of taken) waiting.reject(error);
    }
  }
}
