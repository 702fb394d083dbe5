// Delayed messages of the in-process driver, held in due order (equal due times keep publish
// order) under one timer. Timers suffice here: the memory driver keeps nothing across restarts.

interface Waiting<T> {
  due: number;
  item: T;
}

export class DueQueue<T> {
  private readonly waiting: Waiting<T>[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Infinity;

  constructor(private readonly release: (item: T) => void) {}

  add(due: number, item: T): void {
    const { waiting } = this;
    // After every entry due at or before it, so equal due times keep publish order.
    let low = 0;
    let high = waiting.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (waiting[middle].due <= due) low = middle + 1;
      else high = middle;
    }
    waiting.splice(low, 0, { due, item });
    if (due < this.armedFor) this.arm();
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.waiting.length = 0;
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const next = this.waiting[0];
    this.timer = undefined;
    this.armedFor = next?.due ?? Infinity;
    if (next === undefined) return;
    // Not unref'd: a message still to deliver keeps the process running, as a pending timer would.
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.due - Date.now()));
  }

  /** Releases what is due by the wall clock, which a timer can precede by a millisecond. */
  private fire(): void {
    const now = Date.now();
    while (this.waiting.length > 0 && this.waiting[0].due <= now) this.release(this.waiting.shift()!.item);
    this.arm();
  }
}
