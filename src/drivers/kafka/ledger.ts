// A group's progress in one partition. Kafka keeps one committed offset per partition, so
// settling out of order needs bookkeeping: the commit point is the lowest offset handed out
// and not yet settled, and the offsets settled above it travel in the commit's metadata, so
// whoever gets the partition next skips them instead of handling them again.

/** The most metadata a commit carries; Kafka's `offset.metadata.max.bytes` is 4,096 by default. */
const MAX_METADATA = 4_000;

/**
 * The acks settled between two commits, sharing one promise: a promise (and a waiter) per
 * ack was a good part of what consuming cost. It resolves once a commit covers every offset
 * in it, so never before its own offset is covered, at worst a little after.
 */
interface Waiters {
  offsets: number[];
  highest: number;
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { offsets: [], highest: -1, done, resolve, reject };
}

// Offsets are kept as numbers (exact below 2^53, which no partition reaches): bigint sets and
// comparisons on every ack cost a tenth of consuming. They are bigints only at the edges.

export class PartitionLedger {
  /** Handed-out offsets in order; those before `head` are settled and below the commit point. */
  private readonly handed: number[] = [];
  private head = 0;
  private readonly settledAhead = new Set<number>();
  /** Offsets at or above the start settled before (from the committed metadata): skipped. */
  private readonly skip: Set<number>;
  /** Oldest first; the last takes new settles until a commit is sent (`pending`). */
  private waiters: Waiters[] = [];
  private open: Waiters | undefined;
  /** The offset after the last one handed out: the commit point once everything settled. */
  private end: number;
  /** What the broker holds for the group, as far as this member knows (offset -1: nothing yet). */
  committed: { offset: bigint; metadata: string };

  constructor(
    readonly topic: string,
    readonly partition: number,
    start: bigint,
    /** Offsets at or above `start` settled before (from the committed metadata): skipped. */
    skip: ReadonlySet<bigint>,
    committed: { offset: bigint; metadata: string } | undefined,
  ) {
    this.end = Number(start);
    this.skip = new Set([...skip].map(Number));
    this.committed = committed ?? { offset: -1n, metadata: '' };
  }

  /** Records that `offset` goes to a subscriber; false if it was settled before (skip it). */
  hand(offset: bigint): boolean {
    const at = Number(offset);
    if (at >= this.end) this.end = at + 1;
    if (this.skip.size > 0 && this.skip.has(at)) return false;
    this.handed.push(at);
    return true;
  }

  /** Moves past offsets that carry nothing to hand out (transaction markers). */
  advance(to: bigint): void {
    if (Number(to) > this.end) this.end = Number(to);
  }

  /** Marks `offset` settled; resolves once a commit covers it. */
  settle(offset: bigint): Promise<void> {
    const at = Number(offset);
    // In order, as nearly every ack is: the commit point moves on without the set. Below the
    // commit point (a second ack, after a redelivery) there is nothing to record.
    const next = this.head < this.handed.length ? this.handed[this.head] : this.end;
    if (at === next) this.head++;
    else if (at > next) this.settledAhead.add(at);
    if (this.open === undefined) this.waiters.push((this.open = waiters()));
    this.open.offsets.push(at);
    if (at > this.open.highest) this.open.highest = at;
    return this.open.done;
  }

  /** The offset to commit and the settled offsets above it, or undefined if nothing changed. */
  pending(): { offset: bigint; metadata: string } | undefined {
    // Settles from here on wait for the next commit.
    this.open = undefined;
    while (this.head < this.handed.length && this.settledAhead.has(this.handed[this.head])) {
      this.settledAhead.delete(this.handed[this.head]);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.handed.length) {
      this.handed.splice(0, this.head);
      this.head = 0;
    }
    const at = this.head < this.handed.length ? this.handed[this.head] : this.end;
    const offset = BigInt(at);
    let metadata = '';
    if (this.settledAhead.size > 0 || this.skip.size > 0) {
      const ahead = [...this.settledAhead, ...[...this.skip].filter((o) => o >= at)];
      metadata = encodeOffsets(offset, ahead.map(BigInt));
    }
    if (offset === this.committed.offset && metadata === this.committed.metadata) return undefined;
    return { offset, metadata };
  }

  /** A commit of `point` succeeded: settles what it covers. */
  committedAt(point: { offset: bigint; metadata: string }): void {
    this.committed = point;
    const below = Number(point.offset);
    const covered = new Set([...decodeOffsets(point.offset, point.metadata)].map(Number));
    this.waiters = this.waiters.filter((waiting) => {
      if (waiting.highest >= below && waiting.offsets.some((offset) => offset >= below && !covered.has(offset))) return true;
      if (waiting === this.open) this.open = undefined;
      waiting.resolve();
      return false;
    });
  }

  /** A commit failed, or the partition went to another member: the waiting acks learn it. */
  fail(error: unknown): void {
    this.open = undefined;
    for (const waiting of this.waiters.splice(0)) waiting.reject(error);
  }

  get waiting(): number {
    return this.waiters.length;
  }
}

/**
 * The settled offsets above the commit point, as `+<delta>[-<length>]` runs in base 36,
 * comma-separated (`+0-5,+9` is 0..4 and 9 past it). Past MAX_METADATA the rest is left out:
 * those few come back once more after a hand-over.
 */
export function encodeOffsets(base: bigint, offsets: Iterable<bigint>): string {
  const sorted = [...new Set(offsets)].filter((o) => o >= base).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let text = '';
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[j - 1] + 1n) j++;
    const run = `${text === '' ? '' : ','}+${(sorted[i] - base).toString(36)}${j - i > 1 ? `-${(j - i).toString(36)}` : ''}`;
    if (text.length + run.length > MAX_METADATA) break;
    text += run;
    i = j;
  }
  return text;
}

export function decodeOffsets(base: bigint, metadata: string | null | undefined): Set<bigint> {
  const offsets = new Set<bigint>();
  if (!metadata) return offsets;
  for (const run of metadata.split(',')) {
    const match = /^\+([0-9a-z]+)(?:-([0-9a-z]+))?$/.exec(run);
    if (match === null) return new Set(); // someone else's metadata: nothing to skip
    const start = base + BigInt(parseInt(match[1], 36));
    const length = match[2] === undefined ? 1 : parseInt(match[2], 36);
    for (let i = 0; i < length; i++) offsets.add(start + BigInt(i));
  }
  return offsets;
}
