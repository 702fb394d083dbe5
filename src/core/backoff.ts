// Retry delays: exponential with jitter, so retries from many consumers do not align.

export interface BackoffOptions {
  /** Delay before the first retry. Default 100 ms. */
  initialMs?: number;
  /** Ceiling for any delay. Default 30 s. */
  maxMs?: number;
}

/** The delay before redelivering a message that failed on `attempt` (1-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": half fixed, half random, so delays still grow with each attempt.
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
