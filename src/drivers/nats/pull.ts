// Reads a JetStream pull consumer through one inbox with pull requests that overlap: the next
// request goes out while the last still runs, so a new message never waits for a round trip,
// and one inbox on one connection keeps the consumer's order (which overlapping fetches lose).

import type { Msg, NatsConnection, Status, Subscription } from '@nats-io/transport-node';

export interface PullSettings {
  /** Messages asked for, received and not yet handed over, at most. */
  batch: number;
  /** How long one pull request stays open on the server. */
  expiresMs: number;
}

export interface PullHooks {
  /** A message arrived and may be handed over; a promise holds the next until it settles. */
  receive(m: Msg): void | Promise<void>;
  /** Settles a message this puller will not hand over, so the server redelivers it now. */
  handBack(m: Msg): void;
  /** A pull went wrong while the connection is up (rate-limited by the caller). */
  report(error: unknown): void;
  isConnected(): boolean;
}

/** Status codes the server sends on the inbox that end a pull request without an error. */
const QUIET = new Set([404, 408]);
const HEARTBEAT = 100;
const RETRY_MS = 250;
const nanos = (ms: number) => ms * 1_000_000;

export class Puller {
  private readonly inbox: string;
  private readonly subscription: Subscription;
  private readonly queue: Msg[] = [];
  /** Messages requested from the server and not yet arrived (nor released by a status). */
  private outstanding = 0;
  private holding = false;
  private closed = false;
  private lastHeard = Date.now();
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly watchdog: ReturnType<typeof setInterval>;
  private readonly heartbeatMs: number;
  private readonly statuses: AsyncIterable<Status> & { stop?: () => void };

  constructor(
    private readonly nc: NatsConnection,
    inbox: string,
    /** `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` */
    private readonly next: string,
    private readonly settings: PullSettings,
    private readonly hooks: PullHooks,
  ) {
    this.inbox = inbox;
    this.heartbeatMs = Math.min(30_000, Math.max(500, Math.floor(settings.expiresMs / 2)));
    this.subscription = nc.subscribe(inbox, { callback: (error, m) => (error ? this.fail(error) : this.arrive(m)) });
    // Two missed heartbeats: the requests died with the server or the consumer; ask anew.
    this.watchdog = setInterval(() => {
      if (this.outstanding > 0 && Date.now() - this.lastHeard > 2 * this.heartbeatMs) this.restart();
    }, this.heartbeatMs);
    this.watchdog.unref?.();
    this.statuses = nc.status();
    void this.watchStatus();
    this.pull();
  }

  /**
   * Stops asking and hands back (nak) what was received but not handed over, also what
   * arrives until the server has seen the inbox go: cut short, those would wait out the ack
   * deadline before another group member got them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.statuses.stop?.();
    if (this.retry !== undefined) clearTimeout(this.retry);
    // Drain unsubscribes, then waits for the server's reply to a ping: whatever the server
    // routed here before it dropped the interest arrives first (and `arrive` hands it back).
    // Only then are the held ones handed back: sooner, the server could redeliver one to this
    // inbox's own open pull request, where it would be dropped and wait out the deadline.
    // Bounded, as a server that is down answers no ping; its pull requests expire meanwhile.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.subscription.drain().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, this.settings.expiresMs))),
    ]);
    clearTimeout(timer);
    for (const m of this.queue.splice(0)) this.hooks.handBack(m);
  }

  private arrive(m: Msg): void {
    this.lastHeard = Date.now();
    const code = m.reply ? 0 : (m.headers?.code ?? 0);
    if (code === 0) {
      if (this.closed) return this.hooks.handBack(m);
      if (this.outstanding > 0) this.outstanding--;
      this.queue.push(m);
      this.drain();
      return;
    }
    if (code === HEARTBEAT) return;
    const left = Number(m.headers?.get('Nats-Pending-Messages') || 0);
    if (left > 0) {
      this.outstanding = Math.max(0, this.outstanding - left);
    } else if (!QUIET.has(code)) {
      // Consumer deleted, leader changed, JetStream gone for now: every request is void.
      this.outstanding = 0;
      const description = m.headers?.description ?? '';
      if (code >= 400 && !/leadership/i.test(description) && this.hooks.isConnected()) {
        this.hooks.report(new Error(`JetStream pull failed: ${code} ${description}`.trim()));
      }
      return this.later();
    } else {
      this.outstanding = 0;
    }
    this.pull();
  }

  /** Hands queued messages over one by one, pausing while core's buffer is full. */
  private drain(): void {
    while (!this.holding && !this.closed && this.queue.length > 0) {
      let wait: void | Promise<void>;
      try {
        wait = this.hooks.receive(this.queue.shift()!);
      } catch (error) {
        // Settling an expired message failed: the connection is going; keep the loop alive.
        this.hooks.report(error);
        continue;
      }
      if (wait !== undefined) {
        this.holding = true;
        wait.then(
          () => this.resume(),
          () => this.resume(),
        );
        return;
      }
    }
    this.pull();
  }

  private resume(): void {
    this.holding = false;
    this.drain();
  }

  /** Asks for more once under half of the batch is requested or waiting. */
  private pull(): void {
    if (this.closed || this.retry !== undefined) return;
    const { batch, expiresMs } = this.settings;
    const have = this.outstanding + this.queue.length;
    if (have > batch / 2) return;
    const want = batch - have;
    try {
      this.nc.publish(this.next, JSON.stringify({ batch: want, expires: nanos(expiresMs), idle_heartbeat: nanos(this.heartbeatMs) }), {
        reply: this.inbox,
      });
      this.outstanding += want;
    } catch (error) {
      this.fail(error);
    }
  }

  /** Pulls again after a pause, so a missing consumer or stream is not asked in a loop. */
  private later(): void {
    if (this.closed || this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.pull();
    }, RETRY_MS);
  }

  private restart(): void {
    this.outstanding = 0;
    this.lastHeard = Date.now();
    this.pull();
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    if (this.hooks.isConnected()) this.hooks.report(error);
    this.outstanding = 0;
    this.later();
  }

  /** After a reconnect the server forgot the requests (it may have restarted): ask anew. */
  private async watchStatus(): Promise<void> {
    for await (const status of this.statuses) {
      if (this.closed) return;
      if (status.type === 'reconnect') this.restart();
    }
  }
}
