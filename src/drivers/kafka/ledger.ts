// A group's progress in one partition. Kafka keeps one committed offset per partition, so
// settling out of order needs bookkeeping: the commit point is the lowest offset handed out
// and not yet settled, and the offsets settled above it travel in the commit's metadata, so
// whoever gets the partition next skips them instead of handling them again.

/** The most metadata a commit carries; Kafka's `offset.metadata.max.bytes` is 4,096 by default. */
const MAX_METADATA = 4_000;

interface Waiter {
  offset: bigint;
  resolve(): void;
  reject(error: unknown): void;
}

export class PartitionLedger {
  /** Handed-out offsets in order; those before `head` are settled and below the commit point. */
  private readonly handed: bigint[] = [];
  private head = 0;
  private readonly settledAhead = new Set<bigint>();
  private waiters: Waiter[] = [];
  /** The offset after the last one handed out: the commit point once everything settled. */
  private end: bigint;
  /** What the broker holds for the group, as far as this member knows (offset -1: nothing yet). */
  committed: { offset: bigint; metadata: string };

  constructor(
    readonly topic: string,
    readonly partition: number,
    start: bigint,
    /** Offsets at or above `start` settled before (from the committed metadata): skipped. */
    readonly skip: ReadonlySet<bigint>,
    committed: { offset: bigint; metadata: string } | undefined,
  ) {
    this.end = start;
    this.committed = committed ?? { offset: -1n, metadata: '' };
  }

  /** Records that `offset` goes to a subscriber; false if it was settled before (skip it). */
  hand(offset: bigint): boolean {
    if (offset >= this.end) this.end = offset + 1n;
    if (this.skip.has(offset)) return false;
    this.handed.push(offset);
    return true;
  }

  /** Moves past offsets that carry nothing to hand out (transaction markers). */
  advance(to: bigint): void {
    if (to > this.end) this.end = to;
  }

  /** Marks `offset` settled; resolves once a commit covers it. */
  settle(offset: bigint): Promise<void> {
    this.settledAhead.add(offset);
    return new Promise<void>((resolve, reject) => this.waiters.push({ offset, resolve, reject }));
  }

  /** The offset to commit and the settled offsets above it, or undefined if nothing changed. */
  pending(): { offset: bigint; metadata: string } | undefined {
    while (this.head < this.handed.length && this.settledAhead.has(this.handed[this.head])) {
      this.settledAhead.delete(this.handed[this.head]);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.handed.length) {
      this.handed.splice(0, this.head);
      this.head = 0;
    }
    const offset = this.head < this.handed.length ? this.handed[this.head] : this.end;
    const ahead = [...this.settledAhead, ...[...this.skip].filter((o) => o >= offset)];
    const metadata = encodeOffsets(offset, ahead);
    if (offset === this.committed.offset && metadata === this.committed.metadata) return undefined;
    return { offset, metadata };
  }

  /** A commit of `point` succeeded: settles what it covers. */
  committedAt(point: { offset: bigint; metadata: string }): void {
    this.committed = point;
    const covered = decodeOffsets(point.offset, point.metadata);
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.offset >= point.offset && !covered.has(waiter.offset)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** A commit failed, or the partition went to another member: the waiting acks learn it. */
  fail(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
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
