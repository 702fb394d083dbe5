// The bound on publishes held while the gateway is unreachable: they wait with the other
// requests and go out after the reconnect, but only `maxBufferedPublishes` of them.

import { BufferFullError } from './errors.js';

export class OfflineBuffer {
  /** Publishes made and not yet answered, online or not. */
  private held = 0;

  constructor(
    private readonly max: number,
    private readonly address: string,
  ) {}

  /** The error a publish of `count` messages gets now, if any: while offline, room for only `max` are held. */
  refusal(count: number, online: boolean): BufferFullError | undefined {
    if (online || this.held + count <= this.max) return undefined;
    return new BufferFullError(
      `the offline publish buffer is full (${this.max} messages) while the gateway at ${this.address} is unreachable; ` +
        'wait for the reconnected event or raise maxBufferedPublishes',
    );
  }

  hold(count: number): void {
    this.held += count;
  }

  release(count: number): void {
    this.held -= count;
  }
}
