// One WebSocket connection: authenticates, runs the client's requests, forwards messages of
// its subscriptions with flow control, and guards the server against a slow or hostile peer.

import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Bus } from '../core/bus.js';
import type { Logger } from '../core/logger.js';
import type { Message } from '../core/message.js';
import type { Subscription } from '../core/subscription.js';
import { PublishError } from '../core/errors.js';
import { CLOSE } from '../protocol/close-codes.js';
import type { ErrorCode } from '../protocol/errors.js';
import type { ServerFrame, WelcomeFrame } from '../protocol/frames.js';
import type { Limits } from '../protocol/limits.js';
import { AuthError, type Authenticator, type Principal } from './auth.js';
import { tokenClient, type ConnectionCounter } from './connections.js';
import { messageFrame, messageFramePrefix, parseFrames, type ParsedFrame } from './frames.js';
import { describeError, published, publishItems, publishToBus } from './publishing.js';
import { TokenBucket } from './rate.js';
import type { Member, Presence } from './presence.js';
import { logRefusal } from './refusals.js';
import { openSubscription } from './subscriptions.js';
import type { TopicCounts } from './topics.js';
import { TurnBuffer } from '../driver-kit/turn.js';

/** What a session needs from its gateway. */
export interface SessionHost {
  bus: Bus;
  auth: Authenticator;
  limits: Limits;
  heartbeatMs: number;
  logger: Logger;
  /** The welcome every connection gets, but for `authenticated` and `client`. */
  welcome: Omit<WelcomeFrame, 'authenticated' | 'client'>;
  /** Counts published topics for `GET /v1/topics`. */
  topics: TopicCounts;
  connections: ConnectionCounter;
  presence: Presence;
  forget(session: Session): void;
}

interface ClientSubscription {
  id: string;
  /** Its message frames' start (messageFramePrefix). */
  framePrefix: string;
  pattern: string;
  /** Counted in presence: from its reply until it closes. */
  joined: boolean;
  ack: 'client' | 'auto';
  core: Subscription | undefined;
  inFlight: number;
  waiters: Array<() => void>;
  closed: boolean;
}

interface Unacked {
  message: Message;
  subscription: ClientSubscription;
}

export class Session {
  private principal: Principal | undefined;
  /** The gateway's id for this connection, in the welcome frame and in presence. */
  private readonly clientId = randomUUID();
  private readonly subscriptions = new Map<string, ClientSubscription>();
  private readonly unacked = new Map<number, Unacked>();
  private deliveries = 0;
  private lastHeard = Date.now();
  private readonly bucket: TokenBucket;
  private closed = false;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames waiting for the end of this event-loop turn, to go out in one socket write. */
  private readonly outbox = new TurnBuffer<string>((frames) => this.write(frames));
  /** Publishes accepted from the client and not yet answered, for graceful shutdown. */
  pending = 0;

  /**
   * `batches`: the client asked for batch envelopes (`?frames=batch`), so the frames of one
   * event-loop turn go out as one JSON array in one write; otherwise each is sent at once.
   */
  /**
   * `releaseConnection`: frees this connection's place among its client's connections; a token given
   * later in an `auth` frame moves the connection to that token's client.
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly host: SessionHost,
    principal: Principal | undefined,
    private readonly batches: boolean,
    private releaseConnection: () => void,
  ) {
    this.principal = principal ?? host.auth.anonymousPrincipal();
    this.bucket = new TokenBucket(host.limits.publishRate);
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    ws.on('close', () => this.cleanUp());
    ws.on('error', () => this.cleanUp());
    this.heartbeat = setInterval(() => this.beat(), host.heartbeatMs);
    this.heartbeat.unref?.();
    if (this.principal === undefined) {
      this.authTimer = setTimeout(() => this.kick(CLOSE.unauthorized, 'no auth frame within the time limit'), host.limits.authTimeoutMs);
      this.authTimer.unref?.();
    }
    this.send({ ...host.welcome, authenticated: this.principal !== undefined, client: this.clientId });
  }

  /** Tells the client the server is going away and closes the connection. */
  shutdown(reason: string): void {
    this.send({ type: 'closing', reason });
    this.closeSocket(CLOSE.goingAway, reason);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    this.lastHeard = Date.now();
    if (this.closed) return;
    if (isBinary) {
      this.error(undefined, 'BAD_FRAME', 'binary frames are not part of the protocol; send JSON text frames');
      return;
    }
    for (const parsed of parseFrames(data.toString('utf8'))) {
      if (this.closed) return;
      if ('error' in parsed) this.error(parsed.id, parsed.error.code ?? 'BAD_FRAME', parsed.error.message);
      else this.handle(parsed.frame);
    }
  }

  private handle(frame: ParsedFrame): void {
    if (frame.type === 'pong') return;
    if (frame.type === 'ping') {
      this.send({ type: 'pong', id: frame.id });
      return;
    }
    if (frame.type === 'auth') {
      void this.authenticate(frame.id, frame.token);
      return;
    }
    const principal = this.principal;
    if (principal === undefined) {
      this.error(frame.id, 'UNAUTHORIZED', 'authenticate first: send { "type": "auth", "id", "token" }');
      return;
    }
    try {
      switch (frame.type) {
        case 'publish':
          return this.publish(principal, frame);
        case 'subscribe':
          return void this.subscribe(principal, frame);
        case 'unsubscribe':
          return void this.unsubscribe(frame.id, frame.subscription);
        default:
          return void this.settle(frame);
      }
    } catch (error) {
      this.failed(frame.id, error, 'INTERNAL', principal);
    }
  }

  private async authenticate(id: string, token: string): Promise<void> {
    try {
      const principal = await this.host.auth.verify(token);
      if (this.closed) return;
      if (this.principal !== undefined && this.principal.tenant !== principal.tenant && this.subscriptions.size > 0) {
        throw new AuthError('cannot switch tenants while subscribed; reconnect instead');
      }
      if (principal.client !== this.principal?.client) {
        const release = this.host.connections.claim(tokenClient(principal));
        if (release === undefined) {
          const message = this.host.connections.refusal();
          logRefusal(this.host.logger, { code: 'TOO_MANY_CONNECTIONS', message }, { client: this.clientId, name: principal.name, transport: 'websocket' });
          this.error(id, 'TOO_MANY_CONNECTIONS', message);
          this.closeSocket(CLOSE.tooManyConnections, 'too many connections for this client');
          return;
        }
        this.releaseConnection();
        this.releaseConnection = release;
      }
      this.principal = principal;
      clearTimeout(this.authTimer);
      this.send({ type: 'reply', id, ...principal.grants });
    } catch (error) {
      const message = error instanceof AuthError ? error.message : 'authentication failed';
      logRefusal(this.host.logger, { code: 'UNAUTHORIZED', message }, { client: this.clientId, transport: 'websocket' });
      this.error(id, 'UNAUTHORIZED', message);
      this.closeSocket(CLOSE.unauthorized, message.slice(0, 120));
    }
  }

  private publish(principal: Principal, frame: Extract<ParsedFrame, { type: 'publish' }>): void {
    const count = frame.messages.length;
    if (!this.bucket.take(count)) {
      const { perSecond } = this.host.limits.publishRate;
      this.error(frame.id, 'RATE_LIMITED', `publish rate above ${perSecond} messages per second for this connection; slow down and retry`, undefined, true);
      return;
    }
    const items = publishItems(principal, frame.messages, this.host.limits);
    this.pending++;
    publishToBus(this.host.bus, items, frame.batch).then(
      (results) => {
        this.pending--;
        this.host.topics.count(items);
        if (frame.batch) this.send({ type: 'reply', id: frame.id, results: results.map(published) });
        else this.send({ type: 'reply', id: frame.id, ...published(results[0]) });
      },
      (error) => {
        this.pending--;
        this.failed(frame.id, error, 'PUBLISH_FAILED', principal);
      },
    );
  }

  private async subscribe(principal: Principal, frame: Extract<ParsedFrame, { type: 'subscribe' }>): Promise<void> {
    if (this.subscriptions.has(frame.subscription)) {
      return this.error(frame.id, 'DUPLICATE_SUBSCRIPTION', `subscription '${frame.subscription}' already exists on this connection`);
    }
    if (this.subscriptions.size >= this.host.limits.maxSubscriptions) {
      return this.error(frame.id, 'TOO_MANY_SUBSCRIPTIONS', `a connection may hold at most ${this.host.limits.maxSubscriptions} subscriptions`);
    }
    const entry: ClientSubscription = { id: frame.subscription, framePrefix: messageFramePrefix(frame.subscription), pattern: frame.pattern, joined: false, ack: frame.ack ?? 'client', core: undefined, inFlight: 0, waiters: [], closed: false };
    this.subscriptions.set(entry.id, entry);
    try {
      const time = Date.now();
      const opened = await openSubscription(this.host.bus, principal, { ...frame, beforeDeadLetter: (topic) => this.chargeDeadLetter(topic) }, (message, topic) =>
        this.forward(entry, message, topic),
      );
      entry.core = opened.subscription;
      if (this.closed || entry.closed) {
        opened.start(); // held deliveries go through forward(), which hands them back
        await opened.subscription.close();
        return;
      }
      this.send({ type: 'reply', id: frame.id, subscription: entry.id, recovered: opened.recovered, earliest: opened.earliest, time });
      entry.joined = true;
      this.host.presence.join(this.member(principal), entry.pattern);
      opened.start();
    } catch (error) {
      this.subscriptions.delete(entry.id);
      this.failed(frame.id, error, 'SUBSCRIBE_FAILED', principal);
    }
  }

  /** A dead letter made for this client's subscription is a publish of this client's. */
  private chargeDeadLetter(topic: string): void {
    if (this.bucket.take(1)) return;
    const { perSecond } = this.host.limits.publishRate;
    throw new PublishError(`dead letter refused: the client's publish rate (${perSecond} messages per second) is spent; the message is retried later`, { topic });
  }

  private forward(entry: ClientSubscription, message: Message, topic: string): void | Promise<void> {
    if (this.closed || entry.closed) return message.nack({ delayMs: 0 }).catch(() => {});
    const delivery = ++this.deliveries;
    const frame = messageFrame(entry.framePrefix, delivery, message, topic);
    if (entry.ack === 'auto') {
      this.send(frame);
      void message.ack().catch(() => {});
      return;
    }
    this.unacked.set(delivery, { message, subscription: entry });
    entry.inFlight++;
    this.send(frame);
    if (entry.inFlight >= this.host.limits.maxUnacked) return new Promise((resolve) => entry.waiters.push(resolve));
  }

  private async unsubscribe(id: string, subscriptionId: string): Promise<void> {
    const entry = this.subscriptions.get(subscriptionId);
    if (entry === undefined) return this.error(id, 'UNKNOWN_SUBSCRIPTION', `no subscription '${subscriptionId}' on this connection`);
    this.subscriptions.delete(subscriptionId);
    await this.closeSubscription(entry);
    this.send({ type: 'reply', id, subscription: subscriptionId });
  }

  private async closeSubscription(entry: ClientSubscription): Promise<void> {
    entry.closed = true;
    if (entry.joined && this.principal !== undefined) this.host.presence.leave(this.member(this.principal), entry.pattern);
    for (const release of entry.waiters.splice(0)) release();
    await entry.core?.close().catch((error) => this.host.logger.warn({ err: error }, 'closing a gateway subscription failed'));
  }

  private async settle(frame: Extract<ParsedFrame, { type: 'ack' | 'nack' | 'inProgress' | 'reject' }>): Promise<void> {
    const work: Promise<void>[] = [];
    for (const delivery of frame.deliveries) {
      const entry = this.unacked.get(delivery);
      if (entry === undefined) continue;
      const { message } = entry;
      if (frame.type === 'inProgress') {
        work.push(message.inProgress());
        continue;
      }
      this.unacked.delete(delivery);
      this.release(entry.subscription);
      if (frame.type === 'ack') work.push(message.ack());
      else if (frame.type === 'nack') work.push(message.nack({ delayMs: frame.delayMs }));
      else if (frame.type === 'reject') work.push(message.reject(frame.reason));
    }
    try {
      await Promise.all(work);
      if (frame.id !== undefined) this.send({ type: 'reply', id: frame.id });
    } catch (error) {
      this.failed(frame.id, error, 'INTERNAL');
    }
  }

  private release(entry: ClientSubscription): void {
    entry.inFlight--;
    if (entry.inFlight < this.host.limits.maxUnacked) entry.waiters.shift()?.();
  }

  private beat(): void {
    if (Date.now() - this.lastHeard > this.host.heartbeatMs * 2) {
      this.kick(CLOSE.heartbeat, `no frame from the client for ${this.host.heartbeatMs * 2} ms`);
      return;
    }
    this.send({ type: 'ping' });
  }

  private send(frame: ServerFrame | string): void {
    if (this.closed) return;
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    if (!this.batches) {
      this.ws.send(text);
      this.checkBuffer();
      return;
    }
    // At the end of this turn: a burst of deliveries and replies leaves in one write.
    this.outbox.push(text);
  }

  private write(frames: string[]): void {
    if (this.closed) return;
    this.ws.send(frames.length === 1 ? frames[0] : `[${frames.join(',')}]`);
    this.checkBuffer();
  }

  private checkBuffer(): void {
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.host.limits.maxSendBufferBytes) {
      this.kick(CLOSE.slowConsumer, `slow consumer: more than ${this.host.limits.maxSendBufferBytes} bytes waiting to be sent`);
    }
  }

  private error(id: string | undefined, code: ErrorCode, message: string, topic?: string, retriable?: boolean): void {
    this.send({ type: 'error', id, code, message, topic, retriable });
  }

  /** The error frame for what a request threw; `fallback` for a failure the protocol has no code for. */
  private failed(id: string | undefined, error: unknown, fallback: ErrorCode, principal?: Principal): void {
    const described = describeError(error, fallback, principal);
    logRefusal(this.host.logger, described, { client: this.clientId, name: principal?.name, transport: 'websocket' });
    this.send({ type: 'error', id, ...described });
  }

  private member(principal: Principal): Member {
    return { id: this.clientId, transport: 'websocket', principal };
  }

  /** Closes with a reason; a peer that does not finish the close handshake is cut off. */
  private kick(code: number, reason: string): void {
    if (this.closed) return;
    this.host.logger.warn({ client: this.clientId, name: this.principal?.name, code, reason }, 'gateway closed a connection');
    this.closeSocket(code, reason);
  }

  private closeSocket(code: number, reason: string): void {
    this.outbox.flushNow();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    const ws = this.ws;
    setTimeout(() => ws.terminate(), 1_000).unref?.();
    this.cleanUp();
  }

  private cleanUp(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.authTimer);
    this.releaseConnection();
    this.host.forget(this);
    const subscriptions = [...this.subscriptions.values()];
    this.subscriptions.clear();
    void Promise.all(subscriptions.map((entry) => this.closeSubscription(entry))).then(() => {
      // What the client received but never settled goes back at once, for another member or a resume.
      for (const { message } of this.unacked.values()) void message.nack({ delayMs: 0 }).catch(() => {});
      this.unacked.clear();
    });
  }
}
