// Retry delays: exponential with jitter, so retries from many consumers do not align.

export interface BackoffOptions {
  /** Delay before the first retry. Default 100 ms. */
  initialMs?: number;
  /** Ceiling for any delay. Default 30 s. */
  maxMs?: number;
}

/**
 * How the delay is drawn below its ceiling: 'equal' (half fixed, half random, so delays still
 * grow with each attempt), 'full' (anywhere from 0: many clients cut off at once do not come
 * back at once), or 'none' (the ceiling itself, for a loop retrying one resource).
 */
export type Jitter = 'equal' | 'full' | 'none';

/**
 * The delay before try number `attempt + 1` after `attempt` failures (1-based: the first
 * retry waits about `initialMs`), doubling up to `maxMs`. The one backoff of Omnibus:
 * redeliveries, reconnects and retry loops all use it. Imports nothing, so browsers can.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, jitter: Jitter = 'equal'): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  if (jitter === 'none') return ceiling;
  if (jitter === 'full') return Math.round(Math.random() * ceiling);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
