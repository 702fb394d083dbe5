// A connection made on first use and shared by every caller; a failed attempt is forgotten,
// so the next call tries again instead of failing forever with the first error.

export class ConnectOnce<T, Args extends unknown[] = []> {
  private attempt: Promise<T> | undefined;

  /** `open` gets the arguments of the `get` that starts an attempt (a topic for its errors, say). */
  constructor(private readonly open: (...args: Args) => Promise<T>) {}

  /** The connection, connecting now if no attempt is under way or done. */
  get(...args: Args): Promise<T> {
    if (this.attempt !== undefined) return this.attempt;
    const attempt = this.open(...args);
    this.attempt = attempt;
    attempt.catch(() => {
      if (this.attempt === attempt) this.attempt = undefined;
    });
    return attempt;
  }

  /** The attempt under way or made, without starting one (for close). */
  get current(): Promise<T> | undefined {
    return this.attempt;
  }
}
