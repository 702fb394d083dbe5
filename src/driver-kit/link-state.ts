// A driver with several connections (a producer, a consumer per subscription) seen by the
// bus as one: `connectionLost` when the first goes down, `reconnected` when the last is
// back, so one broker outage is one pair of events and health() waits for every part.

import type { DriverEvent } from '../core/driver.js';

export class LinkState {
  private readonly down = new Set<unknown>();

  constructor(
    private readonly driver: string,
    private readonly emit: (event: DriverEvent) => void,
  ) {}

  /** `part` (any key: a subscription, 'publisher') cannot reach the broker. */
  lost(part: unknown, error?: unknown): void {
    if (this.down.has(part)) return;
    this.down.add(part);
    if (this.down.size === 1) this.emit({ type: 'connectionLost', driver: this.driver, error });
  }

  /** `part` reached the broker again; also for a part that is gone (closed). */
  back(part: unknown): void {
    if (this.down.delete(part) && this.down.size === 0) this.emit({ type: 'reconnected', driver: this.driver });
  }
}
