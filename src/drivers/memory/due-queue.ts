// Delayed messages of the in-process driver, held in due order (equal due times keep publish
// order) under one timer. Timers suffice here: the memory driver keeps nothing across restarts.

import { DueTimer } from '../../driver-kit/due-timer.js';

interface Waiting<T> {
  due: number;
  item: T;
}

export class DueQueue<T> {
  private readonly waiting: Waiting<T>[] = [];
  // A message still to deliver keeps the process running, as a pending timer would.
  private readonly timer = new DueTimer(() => this.releaseDue(), true);

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
    this.timer.expect(due);
  }

  clear(): void {
    this.timer.cancel();
    this.waiting.length = 0;
  }

  private releaseDue(): void {
    const now = Date.now();
    while (this.waiting.length > 0 && this.waiting[0].due <= now) this.release(this.waiting.shift()!.item);
    if (this.waiting.length > 0) this.timer.expect(this.waiting[0].due);
  }
}
