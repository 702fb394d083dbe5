// What `bus.health()` reports per driver: whether it is connected, and since when; the last
// connection error. Connection events keep it current; a driver nobody has used yet is asked
// to connect (`Driver.ready`), so a broker that was never reachable shows as down at once.

import type { Driver, DriverEvent } from './driver.js';
import { errorMessage } from './errors.js';

export interface DriverHealth {
  driver: string;
  connected: boolean;
  /** When `connected` last changed (or was first known), ISO 8601. */
  since: string;
  /** The last connection error, while disconnected. */
  error?: string;
}

export interface BusHealth {
  /** Every driver is connected. */
  ok: boolean;
  drivers: DriverHealth[];
}

/** How long `health()` waits for a driver that was never connected to connect. */
const PROBE_MS = 2_000;

export class DriverState {
  private connected: boolean | undefined;
  private since = Date.now();
  private error: string | undefined;

  constructor(
    private readonly name: string,
    private readonly driver: Driver,
  ) {}

  /** Follows the driver's connection events. */
  observe(event: DriverEvent): void {
    if (event.type === 'connectionLost') this.set(false, event.error ?? 'connection lost');
    else if (event.type === 'reconnected') this.set(true);
  }

  async report(): Promise<DriverHealth> {
    if (this.connected === undefined || (this.connected === false && this.driver.ready !== undefined)) await this.probe();
    const health: DriverHealth = { driver: this.name, connected: this.connected ?? true, since: new Date(this.since).toISOString() };
    if (this.connected === false && this.error !== undefined) health.error = this.error;
    return health;
  }

  /** Asks the driver to connect; no `ready()` means nothing to connect to (in-process). */
  private async probe(): Promise<void> {
    if (this.driver.ready === undefined) return this.set(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.driver.ready(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no connection within ${PROBE_MS} ms`)), PROBE_MS))),
      ]);
      this.set(true);
    } catch (error) {
      this.set(false, error);
    } finally {
      clearTimeout(timer);
    }
  }

  private set(connected: boolean, error?: unknown): void {
    if (connected !== this.connected) this.since = Date.now();
    this.connected = connected;
    this.error = connected ? undefined : errorMessage(error);
  }
}
