// One subscription: a channel of its own with `prefetch` unacked messages at most, consuming
// its queue (a group's durable queue, or an exclusive server-named one for a fan-out
// subscription). Acks go out at once and resolve at the next barrier; the ack deadline is
// kept here, and a lapsed delivery goes back to the queue for any consumer.

import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { Deliver, Delivery, DriverSubscription, SubscribeSpec, WireMessage } from '../../core/index.js';
import { Queue } from '../../core/queue.js';
import { Coalescer } from '../../driver-kit/coalescer.js';
import { failure } from '../../driver-kit/failure.js';
import { TurnBatches } from '../../driver-kit/turn.js';
import { bindingKey, fromDelivery } from './wire.js';

export interface ConsumerHost {
  readonly exchange: string;
  readonly prefetch: number;
  /** Whether the server has quorum queues, for a group's queue. */
  readonly quorum: boolean;
  /** Sends the message back to `queue` after `delayMs`, through a delay queue. */
  redeliverLater(queue: string, message: { wire: WireMessage; attempt: number }, delayMs: number): Promise<void>;
  report(error: unknown): void;
  forget(consumer: AmqpConsumer): void;
}

class AmqpDelivery implements Delivery {
  settled = false;
  deadline = Infinity;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    readonly tag: Tag,
    readonly link: Link,
    readonly queue: string,
    private readonly consumer: AmqpConsumer,
  ) {}

  ack(): Promise<void> {
    return this.consumer.settle(this, false);
  }

  async nack(delayMs = 0): Promise<void> {
    if (delayMs <= 0 || this.consumer.closed) return this.consumer.settle(this, true);
    // Claimed first, so the deadline cannot requeue it while the delayed copy is being stored.
    if (!this.consumer.claim(this)) return;
    await this.consumer.host.redeliverLater(this.queue, { wire: this.message, attempt: this.attempt }, delayMs);
    await this.consumer.send(this, false);
  }

  inProgress(): void {
    if (!this.settled) this.deadline = Date.now() + this.consumer.spec.ackDeadlineMs;
  }

  reject(): Promise<void> {
    return this.ack();
  }
}

/** A message received on a link's channel, until its settlement has gone out. */
interface Tag {
  readonly raw: ConsumeMessage;
  state: 'open' | 'acking' | 'sent';
}

/**
 * A consumer's channel. Acks of one event-loop turn go out together: the longest run of
 * settled delivery tags from the oldest unsettled one as a single `basic.ack` with
 * `multiple`, the rest one by one. RabbitMQ's cost is per ack frame (a quorum queue turns
 * each into a Raft command), so a burst of acks costs it one frame instead of one each.
 *
 * AMQP answers no ack, but a channel's methods are handled in order, so once a basic.qos sent
 * after an ack is answered, the ack was handled: that is the barrier an ack resolves on. One
 * barrier is in flight at a time; settlements sent meanwhile wait for the next.
 */
class Link {
  private readonly barrier: Coalescer<void>;
  /** Every message received and not yet settled on the wire, in delivery-tag order. */
  private readonly tags = new Queue<Tag>();
  /** One key: the channel's acks of a turn are one batch. */
  private readonly acks = new TurnBatches<'acks', Tag>((_, tags) => this.sendAcks(tags));

  constructor(
    readonly channel: Channel,
    prefetch: number,
  ) {
    this.barrier = new Coalescer(() => channel.prefetch(prefetch).then(() => undefined), { maxItems: Infinity });
  }

  received(raw: ConsumeMessage): Tag {
    const tag: Tag = { raw, state: 'open' };
    this.tags.push(tag);
    return tag;
  }

  /** Acks or requeues `tag`'s message; resolves once RabbitMQ has handled it. */
  settle(tag: Tag, requeue: boolean): Promise<void> {
    if (!requeue) return this.ack(tag);
    try {
      this.channel.nack(tag.raw, false, true);
    } catch (error) {
      return Promise.reject(error);
    }
    tag.state = 'sent';
    return this.barrier.add([undefined]);
  }

  /** Resolves once every settlement handed over so far has been handled. */
  async idle(): Promise<void> {
    // A failed batch has told its acks already; what is left to wait for is the barrier.
    await this.acks.flush().catch(() => {});
    await this.barrier.idle();
  }

  private ack(tag: Tag): Promise<void> {
    tag.state = 'acking';
    return this.acks.add('acks', tag);
  }

  private sendAcks(acked: Tag[]): Promise<void> {
    // The multiple ack names the last tag of the run still unsent: RabbitMQ refuses a tag it
    // no longer holds, even with `multiple`.
    let last: Tag | undefined;
    for (let head = this.tags.peek(); head !== undefined && head.state !== 'open'; head = this.tags.peek()) {
      this.tags.shift();
      if (head.state === 'acking') {
        head.state = 'sent';
        last = head;
      }
    }
    if (last !== undefined) this.channel.ack(last.raw, true);
    // Acked behind a message still being handled: one by one.
    for (const tag of acked) {
      if (tag.state !== 'acking') continue;
      this.channel.ack(tag.raw);
      tag.state = 'sent';
    }
    return this.barrier.add([undefined]);
  }
}

export class AmqpConsumer implements DriverSubscription {
  closed = false;
  private link: Link | undefined;
  private consumerTag: string | undefined;
  private readonly unsettled = new Set<AmqpDelivery>();
  /** Received while core's buffer is full, in order. */
  private backlog: AmqpDelivery[] = [];
  private full = false;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    readonly host: ConsumerHost,
    readonly spec: SubscribeSpec,
    private readonly deliver: Deliver,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(5_000, Math.max(5, Math.floor(spec.ackDeadlineMs / 4))));
    this.sweeper.unref?.();
  }

  /** The group's queue: one per group and pattern, named by both. */
  static groupQueue(exchange: string, group: string, pattern: string): string {
    return `${exchange}:${group}:${pattern}`;
  }

  /** Declares, binds and consumes the queue on a channel of `model`; again on each reconnect. */
  async attach(model: ChannelModel): Promise<void> {
    // What the lost channel held goes back to the queue on RabbitMQ's side: settling it here can only fail now.
    this.unsettled.clear();
    this.backlog = [];
    this.full = false;
    const channel = await model.createChannel();
    channel.on('error', (error: unknown) => {
      if (!this.closed) this.host.report(error);
    });
    try {
      await channel.prefetch(this.host.prefetch);
      const { group, pattern } = this.spec;
      const declared =
        group === undefined
          ? await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })
          : await channel.assertQueue(AmqpConsumer.groupQueue(this.host.exchange, group, pattern), this.groupQueueOptions());
      await channel.bindQueue(declared.queue, this.host.exchange, bindingKey(pattern));
      const link = new Link(channel, this.host.prefetch);
      const { consumerTag } = await channel.consume(declared.queue, (message) => this.receive(link, declared.queue, message));
      this.link = link;
      this.consumerTag = consumerTag;
    } catch (error) {
      await channel.close().catch(() => {});
      throw error;
    }
  }

  private groupQueueOptions(): Options.AssertQueue {
    return { durable: true, arguments: this.host.quorum ? { 'x-queue-type': 'quorum' } : {} };
  }

  private receive(link: Link, queue: string, raw: ConsumeMessage | null): void {
    if (raw === null) {
      this.host.report(failure('refused', `amqp: RabbitMQ cancelled the consumer of '${this.spec.pattern}' (its queue '${queue}' was deleted?); it resumes on the next reconnect`, { topic: this.spec.pattern }));
      return;
    }
    const { wire, attempt } = fromDelivery(raw);
    const delivery = new AmqpDelivery(wire, attempt, link.received(raw), link, queue, this);
    if (this.closed) {
      void this.settle(delivery, true).catch(() => {});
    } else if (this.full || this.backlog.length > 0) {
      this.backlog.push(delivery);
    } else {
      this.hand(delivery);
    }
  }

  private hand(delivery: AmqpDelivery): void {
    this.unsettled.add(delivery);
    delivery.deadline = Date.now() + this.spec.ackDeadlineMs;
    const room = this.deliver(delivery);
    if (room === undefined) return;
    this.full = true;
    room.then(
      () => this.drain(),
      (error: unknown) => this.host.report(error),
    );
  }

  private drain(): void {
    this.full = false;
    while (!this.full && !this.closed && this.backlog.length > 0) this.hand(this.backlog.shift()!);
  }

  /** Marks `delivery` settled; false if it already was (a late ack after its deadline lapsed, say). */
  claim(delivery: AmqpDelivery): boolean {
    if (delivery.settled) return false;
    delivery.settled = true;
    this.unsettled.delete(delivery);
    return true;
  }

  settle(delivery: AmqpDelivery, requeue: boolean): Promise<void> {
    return this.claim(delivery) ? this.send(delivery, requeue) : Promise.resolve();
  }

  async send(delivery: AmqpDelivery, requeue: boolean): Promise<void> {
    try {
      await delivery.link.settle(delivery.tag, requeue);
    } catch (error) {
      const what = requeue ? 'requeue' : 'ack';
      throw failure('connection', `amqp: the ${what} of message '${delivery.message.id}' did not reach RabbitMQ (${(error as Error).message}); RabbitMQ delivers it again`, {
        topic: delivery.message.topic,
        cause: error,
      });
    } finally {
      if (this.closed && this.unsettled.size === 0 && delivery.link === this.link) this.release();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const delivery of this.unsettled) {
      if (delivery.deadline <= now) void this.settle(delivery, true).catch(() => {});
    }
  }

  /**
   * Cancels the consumer, then hands back at once what core never got. What core holds
   * stays settle-able; the channel closes once the last of it is settled, or with the driver.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.host.forget(this);
    const link = this.link;
    if (link === undefined) return;
    try {
      if (this.consumerTag !== undefined) await link.channel.cancel(this.consumerTag);
      await Promise.all(this.backlog.splice(0).map((delivery) => this.settle(delivery, true)));
    } catch {
      // The channel is gone: RabbitMQ has already put back what it held.
    }
    if (this.unsettled.size === 0) this.release();
  }

  private release(): void {
    const link = this.link;
    this.link = undefined;
    void link
      ?.idle()
      .then(() => link.channel.close())
      .catch(() => {});
  }
}
