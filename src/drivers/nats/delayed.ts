// Delayed delivery on JetStream without message scheduling (which needs NATS Server 2.12): a
// delayed message waits in a stream of the driver's own, and a mover, one durable consumer
// shared by every process on the same streamPrefix, stores each on its topic once due and only
// then acks it. A message further from due than HOLD_MS is nak'd with the delay (the server
// redelivers it then); a nearer one waits in the process, ordered by due time and then by its
// place in the stream, so equal due times keep publish order. A mover that dies leaves what it
// held unacked, to be redelivered to another; the copy keeps the message's Nats-Msg-Id, so a
// move repeated within the dedupe window is stored once.

import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import type { WireMessage } from '../../core/driver.js';
import { DueTimer } from '../../driver-kit/due-timer.js';
import { apiPrefix, inboxFor, storeOnTopic, type JetStreamLink } from './jetstream.js';
import { JetStreamMessage } from './message.js';
import { Puller } from './pull.js';
import { delayedStreamName } from './streams.js';
import { toNatsHeaders } from './wire.js';

/** Headers of a waiting message: where it goes, and when (milliseconds since the epoch). */
export const DELAYED_HEADER = { topic: 'Omnibus-Delayed-Topic', due: 'Omnibus-Deliver-At' } as const;

/** How close to due a message is held in the process rather than nak'd. */
const HOLD_MS = 1_000;
/** How long the server waits for the mover's ack before redelivering: far beyond HOLD_MS. */
const ACK_WAIT_MS = 30_000;
/** A move that failed (the broker is restarting, say) is tried again after this. */
const RETRY_MS = 1_000;
const MOVER = 'omnibus-mover';
const nanos = (ms: number) => ms * 1_000_000;

interface Held {
  due: number;
  seq: number;
  m: JetStreamMessage;
}

export class DelayedMessages {
  private readonly stream: string;
  /** Outside the topic grammar (`~`), so no topic's stream can capture it. */
  private readonly subject: string;
  private setUp: Promise<void> | undefined;
  private puller: Puller | undefined;
  /** Messages due within HOLD_MS, in the order they are moved. */
  private readonly held: Held[] = [];
  private readonly timer = new DueTimer(() => void this.moveDue(), false);
  private moving = false;
  private closed = false;
  private lastReport = 0;

  constructor(
    private readonly link: JetStreamLink,
    streamPrefix: string,
  ) {
    this.stream = delayedStreamName(streamPrefix);
    this.subject = `omnibus~delayed.${streamPrefix}`;
  }

  /** Stores a message that is due later in the delay stream; resolves once the stream has it. */
  async publish(wire: WireMessage): Promise<void> {
    try {
      await this.start();
      const headers = toNatsHeaders(wire, this.link.makeHeaders);
      headers.set(DELAYED_HEADER.topic, wire.topic);
      headers.set(DELAYED_HEADER.due, String(wire.deliverAt));
      const ack = await this.link.js.publish(this.subject, wire.body, { headers, timeout: this.link.settings.publishTimeoutMs });
      if (ack.duplicate) wire.duplicate = true;
    } catch (error) {
      throw this.link.fail(error, wire.topic);
    }
  }

  /** Creates the delay stream and the mover's consumer if they are missing, and starts moving; once per driver. */
  start(): Promise<void> {
    if (this.setUp === undefined) {
      this.setUp = this.create();
      this.setUp.catch(() => (this.setUp = undefined));
    }
    return this.setUp;
  }

  /** Stops moving and hands what it held back to the server, for another process's mover. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer.cancel();
    await this.puller?.close();
    for (const { m } of this.held.splice(0)) m.nak();
  }

  private async create(): Promise<void> {
    const { jsm } = this.link;
    await jsm.streams.add({ name: this.stream, subjects: [this.subject], storage: 'file', retention: 'workqueue', num_replicas: 1 }).catch(async (error: unknown) => {
      // Made by another process meanwhile: fine as long as it is there.
      if ((await jsm.streams.info(this.stream).catch(() => undefined)) === undefined) throw error;
    });
    await jsm.consumers.add(this.stream, {
      durable_name: MOVER,
      description: 'omnibus: moves delayed messages to their topics when due',
      ack_policy: 'explicit',
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
      // Naked messages wait as pending: no cap, or those due later would hold back the rest.
      max_ack_pending: -1,
    });
    if (this.closed) return;
    const next = `${apiPrefix(jsm)}.CONSUMER.MSG.NEXT.${this.stream}.${MOVER}`;
    this.puller = new Puller(this.link.nc, inboxFor(this.link.nc), next, { batch: 256, expiresMs: this.link.settings.pullExpiresMs }, {
      receive: (msg) => this.receive(msg),
      handBack: (msg) => new JetStreamMessage(msg).nak(),
      report: (error) => this.report(error),
      isConnected: this.link.isConnected,
    });
  }

  private receive(msg: Msg): void {
    const m = new JetStreamMessage(msg);
    const due = Number(msg.headers?.get(DELAYED_HEADER.due));
    if (!Number.isFinite(due) || msg.headers?.get(DELAYED_HEADER.topic) === undefined) {
      m.term('not an omnibus delayed message');
      return;
    }
    const wait = due - Date.now();
    if (wait > HOLD_MS) {
      // Back shortly before due, to be held from then on.
      m.nak(wait - HOLD_MS / 2);
      return;
    }
    // A redelivery of one held already (its ack was late): the first copy moves it.
    if (this.held.some((held) => held.seq === m.seq)) return;
    const at = this.held.findIndex((held) => held.due > due || (held.due === due && held.seq > m.seq));
    this.held.splice(at === -1 ? this.held.length : at, 0, { due, seq: m.seq, m });
    this.timer.expect(this.held[0].due);
  }

  /** Moves every held message that is due, one after another in order, each acked once stored. */
  private async moveDue(): Promise<void> {
    if (this.moving) return;
    this.moving = true;
    try {
      while (!this.closed && this.held.length > 0 && this.held[0].due <= Date.now()) {
        const { m } = this.held[0];
        try {
          await storeOnTopic(this.link, m.msg.headers!.get(DELAYED_HEADER.topic), m.msg.data, this.forTopic(m.msg.headers!));
        } catch (error) {
          this.report(error);
          this.timer.expect(Date.now() + RETRY_MS);
          return;
        }
        this.held.shift();
        m.ack();
      }
      if (this.held.length > 0) this.timer.expect(this.held[0].due);
    } finally {
      this.moving = false;
    }
  }

  /** The message's own headers, without those that only the delay stream needs. */
  private forTopic(delayed: MsgHdrs): MsgHdrs {
    const headers = this.link.makeHeaders();
    for (const name of delayed.keys()) {
      if (name === DELAYED_HEADER.topic || name === DELAYED_HEADER.due) continue;
      for (const value of delayed.values(name)) headers.append(name, value);
    }
    return headers;
  }

  /** A mover that keeps failing (the broker is down) says so now and then, not per message. */
  private report(error: unknown): void {
    if (Date.now() - this.lastReport < 10_000) return;
    this.lastReport = Date.now();
    this.link.report(error);
  }
}
