// One write in flight at a time, with every call that arrives meanwhile folded into the next
// one: concurrent publishes become one multi-row INSERT, concurrent acks one DELETE.

interface Waiting<T> {
  items: T[];
  resolve(): void;
  reject(error: unknown): void;
}

export class Coalescer<T> {
  private queue: Array<Waiting<T>> = [];
  private running: Promise<void> | undefined;

  /**
   * `run` stores one combined batch of at most `maxItems` (counted by `weight`: 1 each by
   * default, or bytes); `split` says whether a failure may be one bad item's fault, so each
   * caller's items are retried alone and only the bad one fails.
   */
  constructor(
    private readonly run: (items: T[]) => Promise<void>,
    private readonly maxItems: number,
    private readonly split: (error: unknown) => boolean = () => false,
    private readonly weight: (item: T) => number = () => 1,
  ) {}

  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      // One microtask later, so calls made in the same burst go together rather than the
      // first one alone.
      this.running ??= Promise.resolve().then(() => this.drain());
    });
  }

  /** Resolves once everything added so far has been stored or has failed. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const taken: Array<Waiting<T>> = [];
        let count = 0;
        while (this.queue.length > 0 && (taken.length === 0 || count + this.weigh(this.queue[0].items) <= this.maxItems)) {
          const next = this.queue.shift()!;
          taken.push(next);
          count += this.weigh(next.items);
        }
        await this.store(taken);
      }
    } finally {
      this.running = undefined;
    }
  }

  private weigh(items: T[]): number {
    let total = 0;
    for (const item of items) total += this.weight(item);
    return total;
  }

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
