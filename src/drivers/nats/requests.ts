// Native request/reply on core NATS subjects, in both modes. A request on topic `t` travels on
// subject `_request.t` (after the subject prefix): no stream the driver creates captures it, so
// JetStream neither stores requests nor answers them with a publish ack. Replies go to the
// connection's one mux inbox (`_INBOX.>`), which `nc.request` correlates. A stream of the
// operator's that does capture a request subject is refused, naming it, rather than filled.

import { ConfigurationError, NoRespondersError, TimeoutError } from '../../core/errors.js';
import type { Deliver, DriverSubscription, RequestTransport, SubscribeSpec, WireMessage } from '../../core/driver.js';
import { REQUEST_HEADER } from '../../core/request-protocol.js';
import { uuidv7 } from '../../core/uuid.js';
import { CoreGroups, subscribeCore, type CoreLink } from './core.js';
import type { StreamCatalog } from './streams.js';
import { fromNats, toNatsHeaders } from './wire.js';

/** The token in front of a topic that makes its request subject. */
export const REQUEST_TOKEN = '_request';

export interface RequestLink extends CoreLink {
  /** JetStream mode only: the streams a request subject must stay out of. */
  streams?: StreamCatalog;
}

export class NatsRequests implements RequestTransport {
  /** Apart from the driver's own queue groups: a closing responder hands requests only to responders. */
  private readonly groups = new CoreGroups();
  /** Request subjects known to lie outside every stream, so each is looked up once. */
  private readonly outside = new Map<string, Promise<void>>();

  constructor(
    private readonly linkFor: (topic: string) => Promise<RequestLink>,
    private readonly track: (subscription: DriverSubscription) => DriverSubscription,
  ) {}

  async request(wire: WireMessage, timeoutMs: number): Promise<WireMessage> {
    const link = await this.linkFor(wire.topic);
    const subject = requestSubject(link, wire.topic);
    await this.outsideStreams(link, subject, wire.topic);
    try {
      const reply = await link.nc.request(subject, wire.body, { headers: toNatsHeaders(wire, link.makeHeaders), timeout: timeoutMs });
      return fromNats({ topic: wire.topic, body: reply.data, headers: reply.headers, fallbackId: uuidv7, fallbackTime: Date.now });
    } catch (error) {
      const { name, cause } = error as { name?: string; cause?: { name?: string } };
      if (name === 'TimeoutError') {
        throw new TimeoutError(`no reply to the request on '${wire.topic}' within ${timeoutMs} ms; is a responder running?`, timeoutMs, { topic: wire.topic, cause: error });
      }
      if (name === 'NoResponders' || cause?.name === 'NoResponders') {
        throw new NoRespondersError(`nobody responds to requests on '${wire.topic}' (NATS subject '${subject}'); start a responder (bus.respond) first`, { topic: wire.topic, cause: error });
      }
      throw link.fail(error, wire.topic);
    }
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    const link = await this.linkFor(spec.pattern);
    const requests: CoreLink = {
      ...link,
      subject: (topic) => requestSubject(link, topic),
      topic: (subject) => link.topic(subject).slice(REQUEST_TOKEN.length + 1),
    };
    await this.outsideStreams(link, requests.subject(spec.pattern), spec.pattern);
    return this.track(subscribeCore(requests, this.groups, spec, deliver, REQUEST_HEADER.replyTo));
  }

  async reply(to: string, wire: WireMessage): Promise<void> {
    const link = await this.linkFor(wire.topic);
    try {
      link.nc.publish(to, wire.body, { headers: toNatsHeaders(wire, link.makeHeaders) });
    } catch (error) {
      throw link.fail(error, wire.topic);
    }
  }

  private outsideStreams(link: RequestLink, subject: string, topic: string): Promise<void> | undefined {
    if (link.streams === undefined) return undefined;
    let checking = this.outside.get(subject);
    if (checking === undefined) {
      if (this.outside.size >= 10_000) this.outside.clear();
      checking = link.streams.capturing(subject).then((names) => {
        if (names.length === 0) return;
        throw new ConfigurationError(
          `JetStream stream(s) ${names.join(', ')} capture '${subject}', the request subject of '${topic}', and would store ` +
            `every request; narrow their subjects so that '${REQUEST_TOKEN}.>' lies outside them`,
          { topic },
        );
      });
      checking.catch(() => this.outside.delete(subject));
      this.outside.set(subject, checking);
    }
    return checking;
  }
}

function requestSubject(link: CoreLink, topic: string): string {
  return link.subject(`${REQUEST_TOKEN}.${topic}`);
}
