// Runs a subscription's handler one message at a time, in arrival order, so per-key and
// per-topic order holds and the resume position only moves over handled messages.

export class MessageQueue<T> {
  private readonly items: T[] = [];
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly handle: (item: T) => Promise<void>) {}

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.running ??= this.drain();
  }

  /** Stops taking items, waits for the one being handled, and returns those never started. */
  async close(): Promise<T[]> {
    this.closed = true;
    const unstarted = this.items.splice(0);
    await this.running;
    return unstarted;
  }

  private async drain(): Promise<void> {
    for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) {
      try {
        await this.handle(item);
      } catch {
        // The handler settles its own failures.
      }
    }
    this.running = undefined;
  }
}
