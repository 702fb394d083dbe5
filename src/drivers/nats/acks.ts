// Acks that resolve only once the server recorded them: JetStream's acknowledged ack, `+ACK`
// sent as a request whose (empty) reply is the server's confirmation. The acks of one
// event-loop turn go out together; per consumer, only the last is a request. A consumer
// processes the acks of one connection in the order they were sent and answers a request
// after processing it, so that one reply confirms every ack of the turn before it, and
// confirming costs one small reply per consumer and turn instead of one per message.

import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ClosedError, ConnectionError } from '../../core/errors.js';
import type { JetStreamMessage } from './message.js';

/** One consumer as seen from here: a subscription's part on one stream. */
export interface AckTarget {
  /** The subscription's pattern, for errors. */
  readonly pattern: string;
  /** Set once a fan-out subscription deleted its consumer: nothing of it can be delivered again. */
  deleted: boolean;
}

/** The acks of one turn to one consumer: they share one promise and one confirmation. */
interface Batch {
  target: AckTarget;
  /** Emptied once sent, so received buffers are not kept until the reply. */
  messages: JetStreamMessage[];
  count: number;
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
  /** Set when sent: the requests of one turn share a deadline. */
  turn?: Turn;
}

interface Turn {
  tokens: string[];
  open: number;
  timer?: ReturnType<typeof setTimeout>;
}

const DONE = Promise.resolve();

export class ConfirmedAcks {
  private readonly subscription: Subscription;
  private queued = new Map<AckTarget, Batch>();
  /** Sent batches by the token their request's reply comes back on. */
  private readonly waiting = new Map<string, Batch>();
  private scheduled = false;
  private closed = false;
  private counter = 0;
  private readonly idle: Array<() => void> = [];

  constructor(
    nc: NatsConnection,
    /** A fresh inbox subject; replies come to `<inbox>.<token>`. */
    private readonly inbox: string,
    private readonly timeoutMs: number,
    /** Turns a client error (the connection closed) into an Omnibus one. */
    private readonly fail: (error: unknown, topic: string) => Error,
  ) {
    this.subscription = nc.subscribe(`${inbox}.*`, {
      callback: (error, reply) => {
        if (error === null) this.answer(reply);
      },
    });
  }

  /** Resolves when the server confirmed the ack; rejects when it may not have recorded it. */
  ack(m: JetStreamMessage, target: AckTarget): Promise<void> {
    if (m.settled) return DONE;
    if (this.closed) return Promise.reject(new ClosedError('the nats driver is closed; the ack was not sent', { topic: target.pattern }));
    let batch = this.queued.get(target);
    if (batch === undefined) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
      batch = { target, messages: [], count: 0, promise, resolve, reject };
      this.queued.set(target, batch);
    }
    batch.messages.push(m);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
    return batch.promise;
  }

  /** Sends what is queued, waits until every request is answered or timed out, and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.send();
    this.closed = true;
    if (this.waiting.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.subscription.unsubscribe();
  }

  private send(): void {
    this.scheduled = false;
    if (this.queued.size === 0) return;
    const batches = [...this.queued.values()];
    this.queued = new Map();
    const turn: Turn = { tokens: [], open: 0 };
    for (const batch of batches) {
      // A message settled meanwhile (acked twice, or nacked) has nothing more to send.
      const messages = batch.messages.filter((m) => !m.settled);
      batch.messages = [];
      batch.count = messages.length;
      if (messages.length === 0) {
        batch.resolve();
        continue;
      }
      const token = (this.counter++).toString(36);
      try {
        for (let i = 0; i < messages.length - 1; i++) messages[i].ack();
        messages[messages.length - 1].confirm(`${this.inbox}.${token}`);
      } catch (error) {
        this.settle(batch, this.fail(error, batch.target.pattern));
        continue;
      }
      batch.turn = turn;
      this.waiting.set(token, batch);
      turn.tokens.push(token);
      turn.open++;
    }
    if (turn.open > 0) turn.timer = setTimeout(() => this.expire(turn), this.timeoutMs);
  }

  private answer(reply: Msg): void {
    const token = reply.subject.slice(this.inbox.length + 1);
    const batch = this.waiting.get(token);
    if (batch === undefined) return;
    this.waiting.delete(token);
    // A status instead of the empty reply: 503, nothing took the acks (the consumer is gone,
    // or JetStream is not back yet after a restart), so they were not recorded.
    const code = reply.headers?.code ?? 0;
    if (code < 300) {
      this.settle(batch);
    } else {
      const error = new ConnectionError(
        `NATS did not record ${batch.count} ack(s) on '${batch.target.pattern}' (status ${code}: nothing took them; ` +
          'JetStream may be restarting, or the consumer is gone); those messages are delivered again after their ack deadline',
        { topic: batch.target.pattern },
      );
      this.settle(batch, error);
    }
  }

  private expire(turn: Turn): void {
    for (const token of turn.tokens) {
      const batch = this.waiting.get(token);
      if (batch === undefined) continue;
      this.waiting.delete(token);
      const error = new ConnectionError(
        `NATS did not confirm ${batch.count} ack(s) on '${batch.target.pattern}' within ${this.timeoutMs} ms; the server ` +
          'may be down or restarting. Those of them that did not reach it are delivered again after their ack deadline',
        { topic: batch.target.pattern },
      );
      this.settle(batch, error);
    }
  }

  /** Resolves or rejects a batch; a deleted consumer's acks resolve, as nothing of it comes back. */
  private settle(batch: Batch, error?: Error): void {
    if (error === undefined || batch.target.deleted) batch.resolve();
    else batch.reject(error);
    const turn = batch.turn;
    if (turn !== undefined && --turn.open === 0) clearTimeout(turn.timer);
    if (this.waiting.size === 0 && this.idle.length > 0) for (const resolve of this.idle.splice(0)) resolve();
  }
}
