// Waiting helpers for tests against real brokers, where delivery takes a moment.

import { OmnibusError } from '../core/errors.js';

/** A test helper waited longer than its timeout; the message says for what and what it saw meanwhile. */
export class WaitTimeoutError extends OmnibusError {
  override name = 'WaitTimeoutError';
  override readonly code = 'WAIT_TIMEOUT';
}

/**
 * Resolves once `condition()` is true; rejects after `timeoutMs`, naming what was awaited.
 * `what` may be a function, asked only on timeout, to say what was seen by then.
 */
export async function eventually(
  condition: () => boolean,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
