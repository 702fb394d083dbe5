// Notices commits made by other connections to the same file (other processes, or other
// drivers in this process): file-change notifications on the write-ahead log wake it within
// a millisecond or two, and a slower poll of `PRAGMA data_version` backs them up.

import type { Database, Statement } from 'better-sqlite3';
import { watch, type FSWatcher } from 'node:fs';

export class ChangeWatcher {
  private readonly dataVersion: Statement;
  private version: number;
  private watcher: FSWatcher | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private pending = false;

  constructor(
    db: Database,
    private readonly file: string,
    private readonly changed: () => void,
    private readonly pollIntervalMs: number,
  ) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.version = this.dataVersion.get() as number;
  }

  start(): void {
    if (this.poller !== undefined) return;
    // Not unref'd: like a broker socket, a live subscription keeps the process running.
    this.poller = setInterval(() => this.check(), this.pollIntervalMs);
    try {
      this.watcher = watch(`${this.file}-wal`, { persistent: false }, () => this.schedule());
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      // No notifications on this file system: the poll alone carries the wake-ups.
    }
  }

  stop(): void {
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
    this.stopWatching();
  }

  /** Several notifications arrive per commit; check once for all of them. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.check();
    });
  }

  check(): void {
    if (this.poller === undefined) return;
    let version: number;
    try {
      version = this.dataVersion.get() as number;
    } catch {
      return;
    }
    if (version === this.version) return;
    this.version = version;
    this.changed();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
