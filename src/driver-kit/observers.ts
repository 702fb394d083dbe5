// The listeners behind a driver's `observe()`: the bus registers one, the driver emits its
// connection changes and background errors to all of them.

import type { DriverEvent } from '../core/driver.js';

export class Observers {
  private readonly listeners: Array<(event: DriverEvent) => void> = [];

  /** What a driver's `observe(listener)` does. */
  add(listener: (event: DriverEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(event: DriverEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
