// Requests and their correlated answers: every request's `id` comes back on its `reply` or
// `error` (docs/protocol.md). A request waits across reconnects unless it is moot once its
// WebSocket is gone, and is resent in order when the next one opens.

import { ConnectionError } from '../core/errors.js';
import type { ClientFrame, ReplyFrame } from '../protocol/frames.js';

/**
 * - `publish`, `subscribe`: wait out disconnections and are resent.
 * - `control` (unsubscribe, settling, ...): moot once the WebSocket is gone; they resolve with nothing.
 * - `auth`: belongs to one WebSocket; fails when it closes.
 */
export type RequestKind = 'publish' | 'subscribe' | 'control' | 'auth';

interface Pending {
  kind: RequestKind;
  build(id: string): ClientFrame;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

export class Requests {
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();

  /**
   * A new request, whose frame is `build(id)` (built again for each resend); the caller sends
   * it. `settled` runs as it is answered or fails, before its promise settles.
   */
  add<T>(kind: RequestKind, build: (id: string) => ClientFrame, settled?: () => void): { id: string; reply: Promise<T> } {
    const id = String(++this.nextId);
    const reply = new Promise<T>((resolve, reject) => {
      const entry: Pending = { kind, build, resolve: resolve as (reply: unknown) => void, reject };
      if (settled !== undefined) {
        entry.resolve = (value) => (settled(), resolve(value as T));
        entry.reject = (error) => (settled(), reject(error));
      }
      this.pending.set(id, entry);
    });
    return { id, reply };
  }

  /** Resolves request `id` with its reply; false when no such request waits. */
  resolve(id: string, reply: ReplyFrame): boolean {
    const entry = this.take(id);
    entry?.resolve(reply);
    return entry !== undefined;
  }

  /** Fails request `id` with the error its error frame said; false when no such request waits. */
  reject(id: string | undefined, error: unknown): boolean {
    const entry = id === undefined ? undefined : this.take(id);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** The requests to resend on a new WebSocket, in the order they were made. */
  waiting(): Array<[string, (id: string) => ClientFrame]> {
    return [...this.pending].filter(([, entry]) => entry.kind !== 'auth').map(([id, entry]) => [id, entry.build]);
  }

  /** Whether request `id` is still unanswered. */
  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Whether a publish is still unanswered. */
  get publishing(): boolean {
    for (const entry of this.pending.values()) if (entry.kind === 'publish') return true;
    return false;
  }

  /** The WebSocket closed: control requests are moot, authentication failed. */
  dropped(code: number, reason: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.kind === 'control') {
        this.pending.delete(id);
        entry.resolve(undefined);
      } else if (entry.kind === 'auth') {
        this.pending.delete(id);
        entry.reject(new ConnectionError(`the connection closed during authentication (${code} ${reason})`));
      }
    }
  }

  /** Every request fails with `error`. */
  rejectAll(error: unknown): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) entry.reject(error);
  }

  private take(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    this.pending.delete(id);
    return entry;
  }
}
