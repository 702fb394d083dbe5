// Publish rate limits: a token bucket per WebSocket connection, and buckets per client for
// HTTP, where each request is a connection of its own.

export interface Rate {
  perSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(private readonly rate: Rate) {
    this.tokens = rate.burst;
  }

  /** Takes `count` tokens if there are that many; false (taking none) if not. */
  take(count: number): boolean {
    this.refill();
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Whether it has refilled completely, so forgetting it changes nothing. */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.rate.burst;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate.perSecond);
    this.refilledAt = now;
  }
}

/** Clients kept at most; past this, full buckets are forgotten first. */
const MAX_CLIENTS = 10_000;

/** One bucket per client key (the token's principal, or the address of an anonymous caller). */
export class ClientBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly rate: Rate) {}

  take(client: string, count: number): boolean {
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_CLIENTS) this.forgetFull();
      this.buckets.set(client, (bucket = new TokenBucket(this.rate)));
    }
    return bucket.take(count);
  }

  private forgetFull(): void {
    for (const [client, bucket] of this.buckets) if (bucket.full) this.buckets.delete(client);
  }
}
