// A subscription across connections: the subscribe frame that resumes it after a reconnect
// (from the last handled seq, or the time it first subscribed), and the settle calls of the
// messages it receives.

import type { MessageFrame, SettleFrame, SubscribeFrame } from '../protocol/frames.js';

export interface ChannelSpec {
  pattern: string;
  group?: string;
  from?: SubscribeFrame['from'];
  ack?: 'client' | 'auto';
  maxAttempts?: number;
  deadLetter?: string;
  ackDeadlineMs?: number;
}

/** One message as received, with the calls that settle it at the gateway. */
export interface RemoteDelivery {
  readonly frame: MessageFrame;
  /** `answered: false` sends the ack without asking for a reply, and resolves at once. */
  ack(answered?: boolean): Promise<void>;
  nack(delayMs?: number): Promise<void>;
  inProgress(): Promise<void>;
  reject(reason: string): Promise<void>;
}

/** A settle frame without its id, which the connection gives it. */
export type SettleRequest = SettleFrame extends infer F ? (F extends unknown ? Omit<F, 'id'> : never) : never;

/** How a delivery reaches the gateway: the connection it came on. */
export interface Settler {
  /** Whether deliveries received during `epoch` can still be settled. */
  live(epoch: number): boolean;
  /** Acks the delivery (received during `epoch`) together with the others of this turn; `answered: false` needs no reply. */
  batchAck(epoch: number, delivery: number, answered: boolean): Promise<void>;
  settle(epoch: number, frame: SettleRequest): Promise<void>;
}

interface Position {
  seq: string;
  done: boolean;
}

export class Channel {
  confirmed = false;
  closed = false;
  lastSeq: string | undefined;
  resumeTime: number | undefined;
  recovered = true;
  private readonly order: Position[] = [];
  private readonly bySeq = new Map<string, Position>();

  constructor(
    readonly id: string,
    readonly spec: ChannelSpec,
    readonly receive: (delivery: RemoteDelivery) => void,
  ) {}

  frame(id: string): SubscribeFrame {
    const { spec } = this;
    const frame: SubscribeFrame = { type: 'subscribe', id, subscription: this.id, ...spec };
    if (spec.group !== undefined) {
      // A group's position lives in the broker.
      if (this.confirmed) delete frame.from;
    } else if (this.lastSeq !== undefined) {
      frame.after = this.lastSeq;
      delete frame.from;
    } else if (this.confirmed && (spec.from === undefined || spec.from === 'latest') && this.resumeTime !== undefined) {
      frame.from = { time: this.resumeTime };
    }
    return frame;
  }

  /** Notes a received seq; a redelivery reuses its position. */
  track(seq: string | undefined): Position | undefined {
    if (seq === undefined || this.spec.group !== undefined) return undefined;
    let position = this.bySeq.get(seq);
    if (position === undefined) {
      position = { seq, done: false };
      this.bySeq.set(seq, position);
      this.order.push(position);
    }
    return position;
  }

  /** The message at `position` was handled: the resume position moves past every handled one. */
  done(position: Position | undefined): void {
    if (position === undefined) return;
    position.done = true;
    while (this.order.length > 0 && this.order[0].done) {
      const first = this.order.shift()!;
      this.bySeq.delete(first.seq);
      this.lastSeq = first.seq;
    }
  }
}

/** One received message's settle calls; a class, so a delivery costs no closures. */
export class ChannelDelivery implements RemoteDelivery {
  private readonly position: Position | undefined;

  constructor(
    private readonly settler: Settler,
    private readonly channel: Channel,
    readonly frame: MessageFrame,
    private readonly epoch: number,
  ) {
    this.position = channel.track(frame.seq);
  }

  ack(answered = true): Promise<void> {
    this.channel.done(this.position);
    if (!this.settler.live(this.epoch) || this.channel.spec.ack === 'auto') return Promise.resolve();
    return this.settler.batchAck(this.epoch, this.frame.delivery, answered);
  }

  nack(delayMs?: number): Promise<void> {
    return this.settler.settle(this.epoch, { type: 'nack', deliveries: [this.frame.delivery], delayMs });
  }

  inProgress(): Promise<void> {
    return this.settler.settle(this.epoch, { type: 'inProgress', deliveries: [this.frame.delivery] });
  }

  reject(reason: string): Promise<void> {
    this.channel.done(this.position);
    return this.settler.settle(this.epoch, { type: 'reject', deliveries: [this.frame.delivery], reason });
  }
}
