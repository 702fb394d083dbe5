// One timer for the earliest due time a driver knows of, for delayed delivery. It holds no
// message: durable drivers keep those in their store and only learn the next due time here.

/** setTimeout fires at once past this (about 24.8 days): a later due time waits in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class DueTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Infinity;

  /**
   * @param fire called once the wall clock reached the due time set (a timer can precede it by a millisecond)
   * @param keepsProcess whether a pending due time keeps the process running. Durable drivers say no: their messages wait in the store.
   */
  constructor(
    private readonly fire: () => void,
    private readonly keepsProcess: boolean,
  ) {}

  /** Fires at `due`, unless already set for an earlier time. */
  expect(due: number): void {
    if (due >= this.armedFor) return;
    this.cancel();
    this.armedFor = due;
    this.wait();
  }

  /** Forgets the time set, so the next `expect` sets any time. */
  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private wait(): void {
    this.timer = setTimeout(() => {
      if (Date.now() < this.armedFor) return this.wait();
      this.timer = undefined;
      this.armedFor = Infinity;
      this.fire();
    }, Math.min(MAX_TIMEOUT_MS, Math.max(0, this.armedFor - Date.now())));
    if (!this.keepsProcess) this.timer.unref?.();
  }
}
