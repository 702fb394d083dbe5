// Acks that resolve only once the server recorded them: JetStream's acknowledged ack, `+ACK`
// sent as a request whose (empty) reply is the server's confirmation. The acks of one
// event-loop turn go out together; per consumer, only the last is a request. A consumer
// processes the acks of one connection in the order they were sent and answers a request
// after processing it, so that one reply confirms every ack of the turn before it, and
// confirming costs one small reply per consumer and turn instead of one per message.
//
// nats-server 2.9 confirms acks while it shuts down that it no longer writes to disk (seen on
// SIGTERM: a pull batch's acks, confirmed in its last 100 ms, came back after the restart).
// So the acks confirmed in the last second before the connection dropped go out again, blind,
// once it is back; acking an acked message is harmless.

import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ClosedError, ConnectionError } from '../../core/errors.js';
import { TurnBatches } from '../../driver-kit/turn.js';
import { ACK, type JetStreamMessage } from './message.js';

/** One consumer as seen from here: a subscription's part on one stream. */
export interface AckTarget {
  /** The subscription's pattern, for errors. */
  readonly pattern: string;
  /** Set once a fan-out subscription deleted its consumer: nothing of it can be delivered again. */
  deleted: boolean;
}

/** A sent batch waiting for the reply that confirms it. */
interface Waiting {
  target: AckTarget;
  /** The ack subjects of its messages, to send again after a reconnect. */
  subjects: string[];
  resolve(): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const DONE = Promise.resolve();
/** How long before a disconnect a confirmed ack is sent again after the reconnect. */
const RESEND_MS = 1_000;

export class ConfirmedAcks {
  private readonly subscription: Subscription;
  private readonly batches = new TurnBatches<AckTarget, JetStreamMessage>((target, messages) => this.send(target, messages));
  /** Sent batches by the token their request's reply comes back on. */
  private readonly waiting = new Map<string, Waiting>();
  /** Confirmed batches of the last RESEND_MS, oldest first. */
  private readonly confirmed: { at: number; subjects: string[] }[] = [];
  private disconnectedAt = 0;
  private closed = false;
  private counter = 0;

  constructor(
    private readonly nc: NatsConnection,
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
    return this.batches.add(target, m);
  }

  /** Sends what is gathered, waits until every request is answered or timed out, and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    const sent = this.batches.flush();
    this.closed = true;
    await sent.catch(() => undefined);
    this.subscription.unsubscribe();
  }

  /** One turn's acks to one consumer: all but the last blind, the last as the request whose reply confirms them all. */
  private send(target: AckTarget, gathered: JetStreamMessage[]): Promise<void> {
    // A message settled meanwhile (acked twice, or nacked) has nothing more to send.
    const messages = gathered.filter((m) => !m.settled);
    if (messages.length === 0) return DONE;
    const token = (this.counter++).toString(36);
    const subjects = messages.map((m) => m.msg.reply!);
    try {
      for (let i = 0; i < messages.length - 1; i++) messages[i].ack();
      messages[messages.length - 1].confirm(`${this.inbox}.${token}`);
    } catch (error) {
      return this.outcome(target, this.fail(error, target.pattern));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(token), this.timeoutMs);
      this.waiting.set(token, { target, subjects, resolve, reject, timer });
    });
  }

  private answer(reply: Msg): void {
    const token = reply.subject.slice(this.inbox.length + 1);
    const waiting = this.take(token);
    if (waiting === undefined) return;
    // A status instead of the empty reply: 503, nothing took the acks (the consumer is gone,
    // or JetStream is not back yet after a restart), so they were not recorded.
    const code = reply.headers?.code ?? 0;
    if (code < 300) {
      this.remember(waiting.subjects);
      return waiting.resolve();
    }
    this.settle(
      waiting,
      new ConnectionError(
        `NATS did not record ${waiting.subjects.length} ack(s) on '${waiting.target.pattern}' (status ${code}: nothing took them; ` +
          'JetStream may be restarting, or the consumer is gone); those messages are delivered again after their ack deadline',
        { topic: waiting.target.pattern },
      ),
    );
  }

  private expire(token: string): void {
    const waiting = this.take(token);
    if (waiting === undefined) return;
    this.settle(
      waiting,
      new ConnectionError(
        `NATS did not confirm ${waiting.subjects.length} ack(s) on '${waiting.target.pattern}' within ${this.timeoutMs} ms; the server ` +
          'may be down or restarting. Those of them that did not reach it are delivered again after their ack deadline',
        { topic: waiting.target.pattern },
      ),
    );
  }

  private remember(subjects: string[]): void {
    const now = Date.now();
    while (this.confirmed.length > 0 && this.confirmed[0].at < now - RESEND_MS) this.confirmed.shift();
    this.confirmed.push({ at: now, subjects });
  }

  /** The connection dropped (the driver's status watch tells). */
  disconnected(): void {
    this.disconnectedAt = Date.now();
  }

  /** The connection is back: acks again what was confirmed shortly before it dropped. */
  reconnected(): void {
    const since = this.disconnectedAt - RESEND_MS;
    try {
      for (const { at, subjects } of this.confirmed.splice(0)) {
        if (at >= since) for (const subject of subjects) this.nc.publish(subject, ACK);
      }
    } catch {
      // Closed again meanwhile: the server redelivers them after their ack deadline.
    }
  }

  private take(token: string): Waiting | undefined {
    const waiting = this.waiting.get(token);
    if (waiting === undefined) return undefined;
    this.waiting.delete(token);
    clearTimeout(waiting.timer);
    return waiting;
  }

  /** A deleted consumer's acks resolve whatever happened: nothing of it can come back. */
  private settle(waiting: Waiting, error: Error): void {
    if (waiting.target.deleted) waiting.resolve();
    else waiting.reject(error);
  }

  private outcome(target: AckTarget, error: Error): Promise<void> {
    return target.deleted ? DONE : Promise.reject(error);
  }
}
