// A consumer's delivery loop: woken by new messages, by a due time or by freed room, it runs
// passes one at a time and never overlaps them; a failed pass is reported and retried later,
// backing off, instead of spinning on it.

import { backoffDelay, type BackoffOptions } from '../core/backoff.js';

export abstract class Pump {
  /** Set by `stop()`: no more passes, and a pass under way should end early. */
  protected closed = false;
  /** Whether a loop runs: cleared in the same turn the loop sees nothing more to do, so no wake-up falls between. */
  private active = false;
  /** The loop running or last run, for `stop()` to wait on. */
  private running: Promise<void> = Promise.resolve();
  private again = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private failures = 0;

  /** `retry`: how failed passes back off. Default 100 ms doubling to 5 s. */
  constructor(
    private readonly report: (error: unknown) => void,
    private readonly retry: BackoffOptions = { initialMs: 100, maxMs: 5_000 },
  ) {}

  /** Runs a pass now, or right after the one in progress. */
  wake(): void {
    if (this.closed) return;
    if (this.active) {
      this.again = true;
      return;
    }
    this.active = true;
    this.running = this.loop();
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

  wakeIn(ms: number): void {
    this.wakeAt(Date.now() + ms);
  }

  /** Stops waking; resolves once a pass under way has finished. */
  stop(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    return this.running;
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
            // A pass cut short by stopping is not worth reporting.
            if (this.closed) return;
            this.report(error);
            this.wakeIn(backoffDelay(++this.failures, this.retry, 'none'));
            return;
          }
        }
      } while (this.again && !this.closed);
    } finally {
      this.active = false;
    }
  }
}
