// Group commit: writes that arrive together (publishes, acks, claims, retention) run in one
// transaction, and each caller's promise settles only once that transaction committed.

import type { Database, Statement } from 'better-sqlite3';
import { ClosedError } from '../../core/errors.js';

const QUICK_RUNS = 32;

interface Operation {
  run(): unknown;
  /** Whether subscribers should look again after the commit (new messages, released leases). */
  wakes: boolean;
  /** Publishes need the chosen fsync level; settling (acks, claims) only survives a process crash. */
  durable: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class CommitQueue {
  private operations: Operation[] = [];
  private scheduled = false;
  private closed = false;
  private quickRuns = 0;

  private readonly syncDurable: Statement;
  private readonly syncLight: Statement | undefined;

  constructor(
    private readonly db: Database,
    /** Called after each commit that changed something, to wake subscribers. */
    private readonly committed: () => void,
    synchronous: 'full' | 'normal' | 'off',
    /** The last step inside every transaction (the log remembers the ids it stored); told when the transaction is failing instead. */
    private readonly ending: (failing: boolean) => void = () => {},
  ) {
    this.syncDurable = db.prepare(`PRAGMA synchronous = ${synchronous.toUpperCase()}`);
    // Acks and claims lost to a power cut only mean a redelivery, so they skip the fsync;
    // the next durable commit syncs the log they sit in anyway.
    this.syncLight = synchronous === 'full' ? db.prepare('PRAGMA synchronous = NORMAL') : undefined;
  }

  /** Runs `run` inside the next group transaction; resolves with its result after COMMIT. */
  enqueue<T>(run: () => T, options: { wakes?: boolean; durable?: boolean } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError('the sqlite driver is closed'));
    return new Promise<T>((resolve, reject) => {
      const { wakes = false, durable = false } = options;
      this.operations.push({ run, wakes, durable, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Acks and claims alone commit without an fsync, so a serial consumer need not wait a
        // turn of the event loop for each; a bounded run of them, then publishes get a turn.
        if (!durable && this.quickRuns < QUICK_RUNS) {
          this.quickRuns++;
          queueMicrotask(() => this.flush());
        } else {
          this.quickRuns = 0;
          setImmediate(() => this.flush());
        }
      }
    });
  }

  /** Commits what is queued, then refuses new work: the driver is closing. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Commits everything queued now. */
  flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    const operations = this.operations;
    if (operations.length === 0) return;
    this.operations = [];
    const wakes = operations.some((operation) => operation.wakes);
    const light = this.syncLight !== undefined && !operations.some((operation) => operation.durable);
    try {
      if (light) this.syncLight!.run();
    } catch (error) {
      // The connection is unusable (closed under us): fail every caller, never throw from a timer.
      for (const operation of operations) operation.reject(error);
      return;
    }
    try {
      this.commit(operations, wakes);
    } finally {
      if (light) this.restoreSync();
    }
  }

  private restoreSync(): void {
    try {
      this.syncDurable.run();
    } catch {
      // Only fails on a closed connection, which the next flush reports.
    }
  }

  private commit(operations: Operation[], wakes: boolean): void {
    let results: unknown[];
    try {
      results = this.transaction(() => operations.map((operation) => operation.run()));
    } catch {
      // One operation failed and rolled the batch back: run each alone, so only it fails.
      this.runAlone(operations);
      if (wakes) this.committed();
      return;
    }
    for (let i = 0; i < operations.length; i++) operations[i].resolve(results[i]);
    if (wakes) this.committed();
  }

  private transaction<T>(run: () => T): T {
    return this.db
      .transaction(() => {
        let failing = true;
        try {
          const result = run();
          failing = false;
          return result;
        } finally {
          this.ending(failing);
        }
      })
      .immediate();
  }

  private runAlone(operations: Operation[]): void {
    for (const operation of operations) {
      let result: unknown;
      try {
        result = this.transaction(() => operation.run());
      } catch (error) {
        operation.reject(error);
        continue;
      }
      operation.resolve(result);
    }
  }
}
