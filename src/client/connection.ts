// One logical connection to a gateway, over the WebSockets its socket opens one after another:
// requests with correlated replies, a bounded buffer of publishes made while offline, and
// subscriptions resubscribed with their resume positions after every reconnect.
// Imports nothing from Node, so it runs in browsers.

import { ClosedError } from '../core/errors.js';
import { coreError } from '../protocol/errors.js';
import { PROTOCOL_VERSION, type ClientFrame, type ErrorFrame, type ReplyFrame, type ServerFrame, type SubscribeReply, type WelcomeFrame } from '../protocol/frames.js';
import { Channel, ChannelDelivery, type RemoteDelivery, type SettleRequest, type Settler, type ChannelSpec } from './channel.js';
import { GatewayError } from './errors.js';
import { OfflineBuffer } from './offline-buffer.js';
import { Requests } from './requests.js';
import { Socket, type SocketHost } from './socket.js';

/** The part of the WHATWG WebSocket the client uses (browsers, Node 22+, or the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: any }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * - `url`: the gateway's WebSocket address, e.g. `ws://127.0.0.1:4000/v1/ws` (a URL with no
 *   path gets `/v1/ws`). Required.
 * - `token`: bearer token (API key or JWT), or a function returning one per connect. Default none.
 * - `WebSocket`: the WebSocket class. Default `globalThis.WebSocket`; on Node 20 pass the `ws`
 *   package's `WebSocket`.
 * - `reconnect`: backoff between attempts, `{ initialMs: 100, maxMs: 10_000 }` by default,
 *   with full jitter; `false` never reconnects.
 * - `maxBufferedPublishes`: messages `publish` may hold while disconnected; beyond it publish
 *   rejects with `BufferFullError`. Default 1,000.
 * - `connectTimeoutMs`: how long the first connection may take; then `ready()` and every
 *   request made so far reject with `ConnectionError` (the client keeps trying to connect).
 *   Default 10 s.
 */
export interface ConnectionOptions {
  url: string;
  token?: string | (() => string | Promise<string>);
  WebSocket?: WebSocketConstructor;
  reconnect?: { initialMs?: number; maxMs?: number } | false;
  maxBufferedPublishes?: number;
  connectTimeoutMs?: number;
}

export interface ConnectionEvents {
  /** The connection dropped, or the first one could not be made; `error` is the cause where the WebSocket gave one. */
  connectionLost: { code?: number; reason?: string; error?: unknown };
  reconnected: { attempts: number };
  /**
   * An error frame that answers no request of this client's: a resubscribe after a reconnect
   * that failed, or automatic acks the gateway could not settle (they are redelivered).
   */
  error: { error: unknown };
  /** A resumed subscription could not get everything it missed: the position is gone or the driver keeps no history. */
  gap: { subscription: string; pattern: string; earliest?: string };
}

export class Connection implements SocketHost, Settler {
  private readonly requests = new Requests();
  private readonly channels = new Map<string, Channel>();
  private readonly listeners = new Map<keyof ConnectionEvents, Set<(event: any) => void>>();
  /** This turn's acks, all of deliveries received during `epoch` (delivery numbers start again on each connection). */
  private readonly acks: { epoch: number; deliveries: number[]; waiters: Array<[() => void, (e: unknown) => void]> } = { epoch: 0, deliveries: [], waiters: [] };
  private readonly socket: Socket;
  private readonly buffer: OfflineBuffer;

  constructor(private readonly options: ConnectionOptions) {
    this.socket = new Socket(options, this);
    this.buffer = new OfflineBuffer(options.maxBufferedPublishes ?? 1_000, this.socket.address);
    this.socket.start();
  }

  /** Resolves once the first connection is open and authenticated. */
  opened(): Promise<void> {
    return this.socket.opened();
  }

  get connected(): boolean {
    return this.socket.ready;
  }

  /** The gateway's welcome frame: its capabilities and limits. */
  get welcome(): WelcomeFrame | undefined {
    return this.socket.welcome;
  }

  on<K extends keyof ConnectionEvents>(type: K, listener: (event: ConnectionEvents[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Sends a publish or subscribe request, which waits out disconnections; `count` messages for the offline buffer. */
  request<T extends ReplyFrame>(kind: 'publish' | 'subscribe', build: (id: string) => ClientFrame, count = 1): Promise<T> {
    if (this.socket.closed) return Promise.reject(new ClosedError('the client is closed'));
    if (kind === 'subscribe') return this.send<T>(kind, build);
    const refused = this.buffer.refusal(count, this.socket.ready);
    if (refused !== undefined) return Promise.reject(refused);
    this.buffer.hold(count);
    return this.send<T>(kind, build, () => this.buffer.release(count));
  }

  /** Registers a subscription and subscribes; resubscribed after every reconnect. */
  async subscribe(id: string, spec: ChannelSpec, receive: (delivery: RemoteDelivery) => void): Promise<Channel> {
    const channel = new Channel(id, spec, receive);
    this.channels.set(id, channel);
    try {
      await this.subscribeChannel(channel);
    } catch (error) {
      this.channels.delete(id);
      throw error;
    }
    return channel;
  }

  async unsubscribe(channel: Channel): Promise<void> {
    channel.closed = true;
    this.channels.delete(channel.id);
    await this.control((id) => ({ type: 'unsubscribe', id, subscription: channel.id })).catch(() => {});
  }

  /** Closes the socket; publishes still waiting for a reply get up to `timeoutMs` first. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.socket.closed) return;
    const deadline = Date.now() + timeoutMs;
    while (this.socket.ready && this.requests.publishing && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.socket.close(new ClosedError('the client was closed before the gateway answered'));
  }

  /** Whether deliveries received during `epoch` can still be settled. @internal */
  live(epoch: number): boolean {
    return epoch === this.socket.epoch && this.socket.ready;
  }

  /** Sends a settle request for one delivery. @internal */
  settle(epoch: number, frame: SettleRequest): Promise<void> {
    if (!this.live(epoch)) return Promise.resolve();
    return this.control((id) => ({ ...frame, id }));
  }

  /**
   * Acks made in one turn of the event loop travel in one frame, which asks for a reply only
   * when one of them waits for it (or the gateway needs an id on every ack). @internal
   */
  batchAck(epoch: number, delivery: number, answered: boolean): Promise<void> {
    const batch = this.acks;
    // Acks of a connection that dropped go (or not) on their own, never to the next one.
    if (batch.deliveries.length > 0 && batch.epoch !== epoch) this.sendAcks();
    if (batch.deliveries.length === 0) {
      batch.epoch = epoch;
      // A macrotask, not a microtask: a burst of messages is acked in one frame.
      setTimeout(() => this.sendAcks(), 0);
    }
    batch.deliveries.push(delivery);
    if (!answered) return Promise.resolve();
    return new Promise((resolve, reject) => batch.waiters.push([resolve, reject]));
  }

  private sendAcks(): void {
    const deliveries = this.acks.deliveries.splice(0);
    const waiters = this.acks.waiters.splice(0);
    if (deliveries.length === 0) return;
    // Moot once their connection is gone: the gateway hands its unsettled deliveries back.
    if (!this.live(this.acks.epoch)) return waiters.forEach(([resolve]) => resolve());
    if (waiters.length === 0 && this.socket.welcome?.acksWithoutId === true) {
      this.socket.send({ type: 'ack', deliveries });
      return;
    }
    this.control((id) => ({ type: 'ack', id, deliveries })).then(
      () => waiters.forEach(([resolve]) => resolve()),
      (error) => waiters.forEach(([, reject]) => reject(error)),
    );
  }

  /** Checks the welcome's protocol version, then authenticates. @internal */
  async authenticate(welcome: WelcomeFrame, send: (frame: ClientFrame) => void): Promise<void> {
    // Frames of another version may mean other things: fail plainly rather than misread them.
    if (welcome.version !== PROTOCOL_VERSION) {
      throw new GatewayError(
        'PROTOCOL_VERSION',
        `the gateway speaks protocol version ${String(welcome.version)}, and this client version ${PROTOCOL_VERSION}; use a client of the gateway's version`,
      );
    }
    const { token } = this.options;
    if (token === undefined) {
      if (welcome.authRequired) throw new GatewayError('UNAUTHORIZED', 'the gateway requires a token; pass { token } to the client');
      return;
    }
    const value = typeof token === 'function' ? await token() : token;
    const { id, reply } = this.requests.add('auth', (id) => ({ type: 'auth', id, token: value }));
    send({ type: 'auth', id, token: value });
    await reply;
  }

  /** Resubscribes confirmed subscriptions first, then sends everything that was waiting, in order. @internal */
  resume(): void {
    const waiting = this.requests.waiting();
    for (const channel of this.channels.values()) {
      if (channel.confirmed && !channel.closed) this.subscribeChannel(channel).catch((error) => this.emit('error', { error }));
    }
    for (const [id, build] of waiting) if (this.requests.has(id)) this.socket.send(build(id));
  }

  /** @internal */
  received(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message': {
        const channel = this.channels.get(frame.subscription);
        if (channel !== undefined) channel.receive(new ChannelDelivery(this, channel, frame, this.socket.epoch));
        // Sent before our unsubscribe arrived: hand it straight back for another member.
        else void this.control((id) => ({ type: 'nack', id, deliveries: [frame.delivery], delayMs: 0 }));
        return;
      }
      case 'reply':
        this.requests.resolve(frame.id, frame);
        return;
      case 'error': {
        const error = errorOf(frame);
        if (!this.requests.reject(frame.id, error)) this.emit('error', { error });
        return;
      }
      case 'ping':
        this.socket.send({ type: 'pong' });
        return;
      default:
        return;
    }
  }

  /** @internal */
  dropped(code: number, reason: string): void {
    this.requests.dropped(code, reason);
  }

  /** @internal */
  abandon(error: unknown): void {
    this.requests.rejectAll(error);
  }

  /** @internal */
  emit<K extends keyof ConnectionEvents>(type: K, event: ConnectionEvents[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** A request that is moot without a connection: it resolves at once while offline, and when its WebSocket drops. */
  private control(build: (id: string) => ClientFrame): Promise<void> {
    if (this.socket.closed) return Promise.reject(new ClosedError('the client is closed'));
    if (!this.socket.ready) return Promise.resolve();
    return this.send<void>('control', build);
  }

  private send<T>(kind: 'publish' | 'subscribe' | 'control', build: (id: string) => ClientFrame, settled?: () => void): Promise<T> {
    const { id, reply } = this.requests.add<T>(kind, build, settled);
    if (this.socket.ready) this.socket.send(build(id));
    return reply;
  }

  private async subscribeChannel(channel: Channel): Promise<void> {
    const reply = await this.request<SubscribeReply>('subscribe', (id) => channel.frame(id));
    const resumed = channel.confirmed;
    channel.confirmed = true;
    channel.resumeTime ??= reply.time;
    channel.recovered = reply.recovered !== false;
    if (resumed && reply.recovered === false) {
      this.emit('gap', { subscription: channel.id, pattern: channel.spec.pattern, earliest: reply.earliest });
    }
  }
}

/** The error a client raises for an error frame: core's where the failure is one of core's, so it matches as on the Bus. */
function errorOf(frame: ErrorFrame): Error {
  return coreError(frame) ?? new GatewayError(frame.code, frame.message, { topic: frame.topic, retriable: frame.retriable === true });
}
