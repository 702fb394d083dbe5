// Core mode: plain NATS subjects, at most once. Groups are queue groups. The broker keeps
// nothing, so a nack redelivers from this process: to the same subscriber, or, when it has
// closed, to another member of its group here; a message nobody here can take is lost.

import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { uuidv7 } from '../../core/uuid.js';
import type { Deliver, Delivery, DriverSubscription, SubscribeSpec, WireMessage } from '../../core/driver.js';
import { expired, fromNats, toNatsHeaders, type MakeHeaders } from './wire.js';
import { GroupTable } from '../../driver-kit/group-table.js';

export interface CoreLink {
  nc: NatsConnection;
  makeHeaders: MakeHeaders;
  subject(topic: string): string;
  topic(subject: string): string;
  fail(error: unknown, topic: string): Error;
  report(error: unknown): void;
}

const DONE = Promise.resolve();

export function publishCore(link: CoreLink, batch: WireMessage[]): void {
  for (const wire of batch) {
    try {
      link.nc.publish(link.subject(wire.topic), wire.body, { headers: toNatsHeaders(wire, link.makeHeaders) });
    } catch (error) {
      throw link.fail(error, wire.topic);
    }
  }
}

class Member {
  closed = false;
  constructor(
    readonly deliver: Deliver,
    readonly peers: Member[] | undefined,
  ) {}

  /** This member while it is open, else another open member of its group in this process. */
  live(): Member | undefined {
    if (!this.closed) return this;
    return this.peers?.find((peer) => !peer.closed);
  }
}

/** Queue-group members in this process, by group and pattern, for handing over on close. */
export class CoreGroups {
  private readonly groups = new GroupTable<Member[]>();

  join(spec: SubscribeSpec, deliver: Deliver): Member {
    if (spec.group === undefined) return new Member(deliver, undefined);
    let peers = this.groups.get(spec.group, spec.pattern);
    if (peers === undefined) this.groups.set(spec.group, spec.pattern, (peers = []));
    const member = new Member(deliver, peers);
    peers.push(member);
    return member;
  }

  leave(spec: SubscribeSpec, member: Member): void {
    member.closed = true;
    if (member.peers === undefined || spec.group === undefined) return;
    // Stay listed until no peer is open, so late nacks still find a taker.
    if (member.peers.every((peer) => peer.closed)) this.groups.delete(spec.group, spec.pattern);
  }
}

/** With `replyHeader`, a message's NATS reply subject is handed on under that header (native request/reply). */
export function subscribeCore(link: CoreLink, groups: CoreGroups, spec: SubscribeSpec, deliver: Deliver, replyHeader?: string): DriverSubscription {
  const member = groups.join(spec, deliver);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const hand = (wire: WireMessage, attempt: number): void | Promise<void> => {
    const taker = member.live();
    if (taker === undefined || expired(wire)) return;
    return taker.deliver(new CoreDelivery(wire, attempt, redeliver));
  };
  const redeliver = (wire: WireMessage, attempt: number, delayMs: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      void hand(wire, attempt);
    }, delayMs);
    timers.add(timer);
  };
  const subscription: Subscription = link.nc.subscribe(link.subject(spec.pattern), { queue: spec.group });
  void (async () => {
    try {
      for await (const m of subscription) {
        const wire = fromNats({
          topic: link.topic(m.subject),
          body: m.data,
          headers: m.headers,
          fallbackId: uuidv7,
          fallbackTime: Date.now,
        });
        if (replyHeader !== undefined && m.reply) wire.headers[replyHeader] = m.reply;
        const wait = hand(wire, 1);
        if (wait !== undefined) await wait;
      }
    } catch (error) {
      if (!member.closed) link.report(error);
    }
  })();
  return {
    close: async () => {
      if (member.closed) return;
      groups.leave(spec, member);
      // Drain: what the server already routed here still arrives, and goes to a peer if any.
      await subscription.drain().catch(() => undefined);
      if (member.live() === undefined) for (const timer of timers) clearTimeout(timer);
    },
  };
}

class CoreDelivery implements Delivery {
  private settled = false;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly redeliver: (wire: WireMessage, attempt: number, delayMs: number) => void,
  ) {}

  ack(): Promise<void> {
    this.settled = true;
    return DONE;
  }

  nack(delayMs = 0): Promise<void> {
    if (!this.settled) {
      this.settled = true;
      this.redeliver(this.message, this.attempt + 1, delayMs);
    }
    return DONE;
  }

  inProgress(): Promise<void> {
    return DONE;
  }

  reject(): Promise<void> {
    return this.ack();
  }
}
