// A JetStream message as the pull loop receives it: its delivery facts read from the reply
// subject, and the settle calls the server understands, written to that subject.

import type { Msg, NatsConnection } from '@nats-io/transport-node';

const ACK = '+ACK';
const NAK = '-NAK';
const WORKING = '+WPI';

export class JetStreamMessage {
  readonly stream: string;
  readonly seq: number;
  readonly deliveryCount: number;
  private readonly timestampNanos: string;
  private settled = false;

  constructor(
    readonly msg: Msg,
    /** For `ackAck`, which needs a request. */
    private readonly nc: NatsConnection,
    private readonly ackTimeoutMs: number,
  ) {
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<nanos>.<pending>, or the
    // longer form with domain and account hash after ACK (and a token at the end).
    const tokens = (msg.reply ?? '').split('.');
    const at = tokens.length === 9 ? 2 : 4;
    this.stream = tokens[at];
    this.deliveryCount = Number(tokens[at + 2]);
    this.seq = Number(tokens[at + 3]);
    this.timestampNanos = tokens[at + 5] ?? '0';
  }

  /** When the stream stored it, in milliseconds since the epoch. */
  storedAt(): number {
    return /^\d+$/.test(this.timestampNanos) ? Number(BigInt(this.timestampNanos) / 1_000_000n) : Date.now();
  }

  ack(): void {
    this.settle(ACK);
  }

  /** Acknowledges and waits for the server to confirm it. */
  async ackAck(): Promise<void> {
    if (this.settled || !this.msg.reply) return;
    this.settled = true;
    await this.nc.request(this.msg.reply, ACK, { timeout: this.ackTimeoutMs });
  }

  nak(delayMs?: number): void {
    this.settle(delayMs ? `${NAK} ${JSON.stringify({ delay: delayMs * 1_000_000 })}` : NAK);
  }

  working(): void {
    if (!this.settled) this.msg.respond(WORKING);
  }

  term(reason = ''): void {
    this.settle(reason.length > 0 ? `+TERM ${reason}` : '+TERM');
  }

  private settle(payload: string): void {
    if (this.settled) return;
    this.settled = true;
    this.msg.respond(payload);
  }
}
