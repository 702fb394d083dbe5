// `bus.request` and `bus.respond`. A driver with native request/reply (`Driver.requests`,
// NATS) carries both ends itself; elsewhere requests are ordinary messages on their topic and
// replies go to the bus's one inbox (request-protocol.ts). Responders run as subscriptions, so
// they get the bus's concurrency, backpressure, tracing and correlation like any handler.

import type { Deliver, Driver, DriverSubscription, SubscribeSpec, WireMessage } from './driver.js';
import { isRetriable } from './errors.js';
import { topicOf, validate, type Target } from './event.js';
import type { Headers, Message, PublishOptions, PublishResult, StoredMessage } from './message.js';
import {
  failureHeaders,
  Inbox,
  remoteFailure,
  replyOf,
  REQUEST_HEADER,
  requestTimeout,
  type RequestOptions,
} from './request-protocol.js';
import type { Handler, SubscribeOptions, Subscription } from './subscription.js';
import { uuidv7 } from './uuid.js';

/** Options of `bus.respond`. */
export interface RespondOptions {
  /** Responders sharing a group answer each request once between them. Default: none (every responder answers; the first reply wins). */
  group?: string;
  /** Requests answered at once; see `SubscribeOptions.concurrency`. Default 1. */
  concurrency?: number;
}

/** Answers a request: its return value (or what its promise resolves to) is the reply's `data`. */
export type Responder<T = unknown, R = unknown> = (request: Message<T>) => R | Promise<R>;

/** Opens one driver's side of a subscription. */
export type OpenSubscription = (driver: Driver, spec: SubscribeSpec, deliver: Deliver) => Promise<DriverSubscription>;

/** What request/reply needs from its bus. */
export interface RequestHost {
  publish(topic: string, data: unknown, options: PublishOptions): Promise<PublishResult>;
  subscribe(pattern: string, handler: Handler, options: SubscribeOptions, open?: OpenSubscription): Promise<Subscription>;
  driverFor(topic: string): Driver;
  /** The wire message `publish` would send (for native request/reply). */
  wire(topic: string, data: unknown, options: PublishOptions): WireMessage;
  decode(wire: WireMessage): unknown;
}

/** Requests arrive where the driver's native request/reply delivers them, else as messages. */
const openRequests: OpenSubscription = (driver, spec, deliver) => (driver.requests ?? driver).subscribe(spec, deliver);

export class RequestReply {
  private readonly inbox: Inbox;

  constructor(private readonly host: RequestHost) {
    this.inbox = new Inbox(uuidv7(), {
      subscribe: (topic, handler) => host.subscribe(topic, handler as Handler, {}),
      publish: (topic, data, options) => host.publish(topic, data, options),
    });
  }

  async request<T, R>(target: Target<T>, data: T, options?: RequestOptions): Promise<StoredMessage<R>> {
    const topic = topicOf(target);
    const timeoutMs = requestTimeout(topic, options);
    let payload: unknown = data;
    if (typeof target !== 'string') {
      const outcome = await validate(target, data, topic);
      if ('error' in outcome) throw outcome.error;
      payload = outcome.value;
    }
    const native = this.host.driverFor(topic).requests;
    if (native === undefined) return this.inbox.request<R>(topic, payload, timeoutMs, options?.headers);
    const wire = this.host.wire(topic, payload, { headers: options?.headers, ttlMs: timeoutMs });
    const reply = await native.request(wire, timeoutMs);
    const failure = remoteFailure(topic, reply.headers);
    if (failure !== undefined) throw failure;
    return replyOf<R>({ ...reply, data: this.host.decode(reply) });
  }

  respond<T, R>(target: Target<T>, responder: Responder<T, R>, options: RespondOptions = {}): Promise<Subscription> {
    const event = typeof target === 'string' ? undefined : target;
    const answer = async (request: Message): Promise<void> => {
      const to = request.headers[REQUEST_HEADER.replyTo];
      // An ordinary message on the topic, not a request: nobody waits for an answer.
      if (to === undefined) return;
      const deadline = Number(request.headers[REQUEST_HEADER.deadline]);
      // Stored by a durable driver and found after the requester gave up: answering would only fill its inbox.
      if (deadline <= Date.now()) return;
      const headers: Headers = { [REQUEST_HEADER.requestId]: request.id };
      let result: unknown = null;
      try {
        if (event !== undefined) {
          const outcome = await validate(event, request.data, request.topic);
          if ('error' in outcome) throw outcome.error;
          (request as { data: unknown }).data = outcome.value;
        }
        result = await responder(request as Message<T>);
      } catch (error) {
        Object.assign(headers, failureHeaders(error));
      }
      const ttlMs = Number.isFinite(deadline) ? Math.max(1, deadline - Date.now()) : undefined;
      try {
        await this.reply(request.topic, to, result, { headers, ttlMs });
      } catch (error) {
        // A reply that can never be sent (unencodable, too large) is a failure to report; others are retried.
        if (isRetriable(error) || headers[REQUEST_HEADER.error] !== undefined) throw error;
        await this.reply(request.topic, to, null, { headers: { ...headers, ...failureHeaders(error) }, ttlMs });
      }
    };
    return this.host.subscribe(topicOf(target), answer, { group: options.group, concurrency: options.concurrency }, openRequests);
  }

  /** Rejects requests still waiting with ClosedError. */
  close(): Promise<void> {
    return this.inbox.close();
  }

  private async reply(topic: string, to: string, data: unknown, options: PublishOptions): Promise<void> {
    const native = this.host.driverFor(topic).requests;
    if (native === undefined) await this.host.publish(to, data, options);
    else await native.reply(to, this.host.wire(topic, data, options));
  }
}
