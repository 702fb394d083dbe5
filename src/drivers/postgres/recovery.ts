// The driver's connection state: a loss is reported once, then the server is probed in the
// background, backing off, until it answers again; then that is reported once too.

import { backoffDelay } from '../../core/backoff.js';

export interface RecoveryEvents {
  lost(error: unknown): void;
  back(): void;
}

export class Recovery {
  /** Whether the server answered last time we asked. */
  up = true;
  private recovering: Promise<void> | undefined;

  constructor(
    /** Resolves once the server answers (LISTEN again, a query). */
    private readonly probe: () => Promise<void>,
    private readonly events: RecoveryEvents,
    /** The driver is closing: stop probing. */
    private readonly stopped: () => boolean,
  ) {}

  /** The connection dropped. */
  lost(error: unknown): void {
    if (this.stopped()) return;
    if (this.up) {
      this.up = false;
      this.events.lost(error);
    }
    this.recovering ??= this.recover().finally(() => (this.recovering = undefined));
  }

  private async recover(): Promise<void> {
    for (let attempt = 1; !this.stopped(); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }, 'none')));
      if (this.stopped()) return;
      try {
        await this.probe();
      } catch {
        continue;
      }
      this.up = true;
      this.events.back();
      return;
    }
  }
}
