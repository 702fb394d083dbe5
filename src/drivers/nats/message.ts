// A JetStream message as the pull loop receives it: its delivery facts read from the reply
// subject, and the settle calls the server understands, written to that subject.

import type { Msg } from '@nats-io/transport-node';

export const ACK = '+ACK';
const NAK = '-NAK';
const WORKING = '+WPI';

export class JetStreamMessage {
  readonly stream: string;
  readonly seq: number;
  readonly deliveryCount: number;
  /** Messages left for the consumer after this one when it was sent. */
  readonly pending: number;
  private readonly timestampNanos: string;
  private done = false;

  constructor(readonly msg: Msg) {
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<nanos>.<pending>, or the
    // longer form with domain and account hash after ACK (and a token at the end).
    const tokens = (msg.reply ?? '').split('.');
    const at = tokens.length === 9 ? 2 : 4;
    this.stream = tokens[at];
    this.deliveryCount = Number(tokens[at + 2]);
    this.seq = Number(tokens[at + 3]);
    this.timestampNanos = tokens[at + 5] ?? '0';
    this.pending = Number(tokens[at + 6]);
  }

  /** When the stream stored it, in milliseconds since the epoch. */
  storedAt(): number {
    return /^\d+$/.test(this.timestampNanos) ? Number(BigInt(this.timestampNanos) / 1_000_000n) : Date.now();
  }

  /** When the stream stored it, in nanoseconds since the epoch (0 when the subject does not say). */
  storedAtNanos(): bigint {
    return /^\d+$/.test(this.timestampNanos) ? BigInt(this.timestampNanos) : 0n;
  }

  /** Acked, nacked or terminated already. */
  get settled(): boolean {
    return this.done;
  }

  /** Acknowledges, without waiting for an answer. */
  ack(): void {
    this.settle(ACK);
  }

  /** Acknowledges (again, if acked already: that is harmless) asking the server to answer on `reply` once it recorded it. */
  confirm(reply: string): void {
    this.done = true;
    this.msg.respond(ACK, { reply });
  }

  nak(delayMs?: number): void {
    this.settle(delayMs ? `${NAK} ${JSON.stringify({ delay: delayMs * 1_000_000 })}` : NAK);
  }

  working(): void {
    if (!this.done) this.msg.respond(WORKING);
  }

  term(reason = ''): void {
    this.settle(reason.length > 0 ? `+TERM ${reason}` : '+TERM');
  }

  private settle(payload: string): void {
    if (this.done) return;
    this.done = true;
    this.msg.respond(payload);
  }
}
