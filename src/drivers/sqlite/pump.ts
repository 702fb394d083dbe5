// One consumer's delivery loop: woken by commits (ours, another driver's in this process,
// or another process's), it runs passes one at a time and never overlaps them.

export abstract class Pump {
  closed = false;
  private running = false;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private failures = 0;

  constructor(private readonly report: (error: unknown) => void) {}

  /** Runs a pass now, or right after the one in progress. */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  /** Wakes at `time` (ms since the epoch), unless an earlier wake-up is already set. */
  wakeAt(time: number): void {
    if (this.closed || time >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = time;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.wake();
    }, Math.max(0, time - Date.now()));
    this.timer.unref?.();
  }

  stop(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Delivers what is ready; returns true if more is waiting (a full batch). */
  protected abstract pass(): Promise<boolean>;

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        let more = true;
        while (more && !this.closed) {
          try {
            more = await this.pass();
            this.failures = 0;
          } catch (error) {
            // A pass cut short by closing is not worth reporting.
            if (this.closed) return;
            this.report(error);
            // Retry a failed pass later, backing off up to 5 s, instead of spinning on it.
            this.wakeAt(Date.now() + Math.min(5_000, 100 * 2 ** this.failures++));
            return;
          }
        }
      } while (this.again && !this.closed);
    } finally {
      this.running = false;
    }
  }
}
