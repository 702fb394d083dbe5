// One logical connection to a gateway over any number of WebSockets in a row: requests with
// correlated replies, reconnects with exponential backoff and jitter, heartbeats, a bounded
// buffer of publishes made while offline, and resubscription with resume positions.
// Imports nothing from Node, so it runs in browsers.

import { ClosedError, ConnectionError } from '../core/errors.js';
import { BufferFullError, GatewayError } from './errors.js';

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
  error: { error: unknown };
  /** A resumed subscription could not get everything it missed: the position is gone or the driver keeps no history. */
  gap: { subscription: string; pattern: string; earliest?: string };
}

type Kind = 'publish' | 'subscribe' | 'control';

interface Pending {
  kind: Kind;
  count: number;
  build(id: string): Record<string, unknown>;
  resolve(reply: any): void;
  reject(error: unknown): void;
}

export interface SubscribeSpec {
  pattern: string;
  group?: string;
  from?: 'earliest' | 'latest' | { seq: string } | { time: number };
  ack?: 'client' | 'auto';
  maxAttempts?: number;
  deadLetter?: string;
  ackDeadlineMs?: number;
}

/** One message as received, with the calls that settle it at the gateway. */
export interface RemoteDelivery {
  readonly frame: Record<string, any>;
  ack(): Promise<void>;
  nack(delayMs?: number): Promise<void>;
  inProgress(): Promise<void>;
  reject(reason: string): Promise<void>;
}

interface Position {
  seq: string;
  done: boolean;
}

/** A subscription's state across connections: resubscribed on each reconnect. */
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
    readonly spec: SubscribeSpec,
    readonly receive: (delivery: RemoteDelivery) => void,
  ) {}

  frame(id: string): Record<string, unknown> {
    const { spec } = this;
    const frame: Record<string, unknown> = { type: 'subscribe', id, subscription: this.id, ...spec };
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
class Delivery implements RemoteDelivery {
  private readonly position: Position | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly channel: Channel,
    readonly frame: Record<string, any>,
    private readonly epoch: number,
  ) {
    this.position = channel.track(frame.seq);
  }

  ack(): Promise<void> {
    this.channel.done(this.position);
    if (!this.connection.live(this.epoch) || this.channel.spec.ack === 'auto') return Promise.resolve();
    return this.connection.batchAck(this.frame.delivery as number);
  }

  nack(delayMs?: number): Promise<void> {
    return this.connection.settle(this.epoch, { type: 'nack', deliveries: [this.frame.delivery], delayMs });
  }

  inProgress(): Promise<void> {
    return this.connection.settle(this.epoch, { type: 'inProgress', deliveries: [this.frame.delivery] });
  }

  reject(reason: string): Promise<void> {
    this.channel.done(this.position);
    return this.connection.settle(this.epoch, { type: 'reject', deliveries: [this.frame.delivery], reason });
  }
}

const OPEN = 1;
const FATAL_CODES = new Set([4001]);

/** Runs after this turn's I/O: setImmediate on Node, a zero timeout in browsers. */
const later: (run: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (run) => void (globalThis as unknown as { setImmediate(run: () => void): unknown }).setImmediate(run)
    : (run) => void setTimeout(run, 0);

export class Connection {
  private socket: WebSocketLike | undefined;
  private ready = false;
  private closed = false;
  private everOpened = false;
  private epoch = 0;
  private nextId = 0;
  private attempts = 0;
  private bufferedPublishes = 0;
  private lastHeard = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly channels = new Map<string, Channel>();
  private readonly listeners = new Map<keyof ConnectionEvents, Set<(event: any) => void>>();
  private readonly acks: { deliveries: number[]; waiters: Array<[() => void, (e: unknown) => void]> } = { deliveries: [], waiters: [] };
  /** Frames of this turn, sent together (in one batch envelope when the gateway takes them). */
  private outbox: string[] = [];
  private flushScheduled = false;
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly url: string;
  /** The address as the user gave it, for messages (without our query parameters). */
  private readonly address: string;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the last failed socket said, for the error that reports it. */
  private lastError: unknown;
  private firstOpen: { resolve(): void; reject(error: unknown): void; promise: Promise<void> };
  /** The gateway's welcome frame: its capabilities and limits. */
  welcome: Record<string, any> | undefined;

  constructor(private readonly options: ConnectionOptions) {
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) {
      throw new ConnectionError('no WebSocket implementation: pass { WebSocket } (on Node 20: import { WebSocket } from "ws")');
    }
    this.WebSocketClass = WebSocketClass;
    const url = new URL(options.url);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/ws';
    this.address = url.toString();
    // Ask for the frames of one turn in one batch envelope (docs/protocol.md).
    url.searchParams.set('frames', 'batch');
    this.url = url.toString();
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => {});
    this.firstOpen = { resolve, reject, promise };
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    this.connectTimer = setTimeout(() => this.giveUpFirstConnect(timeoutMs), timeoutMs);
    this.connect();
  }

  /** Resolves once the first connection is open and authenticated. */
  opened(): Promise<void> {
    return this.firstOpen.promise;
  }

  get connected(): boolean {
    return this.ready;
  }

  on<K extends keyof ConnectionEvents>(type: K, listener: (event: ConnectionEvents[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Sends a request; publishes and subscribes wait out disconnections, control requests do not. */
  request<T = Record<string, any>>(kind: Kind, build: (id: string) => Record<string, unknown>, count = 1): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError('the client is closed'));
    if (kind === 'control' && !this.ready) return Promise.resolve({} as T);
    if (kind === 'publish' && !this.ready && this.bufferedPublishes + count > this.maxBuffered) {
      return Promise.reject(
        new BufferFullError(
          `the offline publish buffer is full (${this.maxBuffered} messages) while the gateway at ${this.url} is unreachable; ` +
            'wait for the reconnected event or raise maxBufferedPublishes',
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const id = String(++this.nextId);
      const entry: Pending = { kind, count, build, resolve, reject };
      if (kind === 'publish') {
        this.bufferedPublishes += count;
        entry.resolve = (reply) => ((this.bufferedPublishes -= count), resolve(reply));
        entry.reject = (error) => ((this.bufferedPublishes -= count), reject(error));
      }
      this.pending.set(id, entry);
      if (this.ready) this.send(build(id));
    });
  }

  /** Registers a subscription and subscribes; resubscribed after every reconnect. */
  async subscribe(id: string, spec: SubscribeSpec, receive: (delivery: RemoteDelivery) => void): Promise<Channel> {
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
    await this.request('control', (id) => ({ type: 'unsubscribe', id, subscription: channel.id })).catch(() => {});
  }

  /** Closes the socket; publishes still waiting for a reply get up to `timeoutMs` first. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + timeoutMs;
    while (this.ready && [...this.pending.values()].some((p) => p.kind === 'publish') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.flush();
    this.closed = true;
    this.ready = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeat);
    const error = new ClosedError('the client was closed before the gateway answered');
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
    this.firstOpen.reject(error);
    this.socket?.close(1000, 'client closed');
  }

  private get maxBuffered(): number {
    return this.options.maxBufferedPublishes ?? 1_000;
  }

  private async subscribeChannel(channel: Channel): Promise<void> {
    const reply = await this.request('subscribe', (id) => channel.frame(id));
    const resumed = channel.confirmed;
    channel.confirmed = true;
    channel.resumeTime ??= typeof reply.time === 'number' ? reply.time : undefined;
    channel.recovered = reply.recovered !== false;
    if (resumed && reply.recovered === false) {
      this.emit('gap', { subscription: channel.id, pattern: channel.spec.pattern, earliest: typeof reply.earliest === 'string' ? reply.earliest : undefined });
    }
  }

  private connect(): void {
    if (this.closed) return;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketClass(this.url);
    } catch (error) {
      this.emit('error', { error });
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let settled = false;
    socket.onmessage = (event) => {
      this.lastHeard = Date.now();
      let value: Record<string, any> | Array<Record<string, any>>;
      try {
        value = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data));
      } catch {
        return;
      }
      for (const frame of Array.isArray(value) ? value : [value]) {
        if (typeof frame !== 'object' || frame === null) continue;
        if (frame.type === 'welcome') void this.welcomed(socket, frame);
        else this.handle(frame);
      }
    };
    socket.onerror = (event) => {
      this.lastError = (event as { error?: unknown })?.error ?? event;
    };
    socket.onclose = (event) => {
      if (settled) return;
      settled = true;
      this.lost(socket, event.code, event.reason);
    };
  }

  private async welcomed(socket: WebSocketLike, welcome: Record<string, any>): Promise<void> {
    this.welcome = welcome;
    const { token } = this.options;
    try {
      if (token !== undefined) {
        const value = typeof token === 'function' ? await token() : token;
        await new Promise<void>((resolve, reject) => {
          const id = `auth-${++this.nextId}`;
          this.pending.set(id, { kind: 'control', count: 0, build: () => ({}), resolve: () => resolve(), reject });
          socket.send(JSON.stringify({ type: 'auth', id, token: value }));
        });
      } else if (welcome.authRequired) {
        throw new GatewayError('UNAUTHORIZED', 'the gateway requires a token; pass { token } to the client');
      }
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.socket !== socket || this.closed) return;
    this.ready = true;
    this.epoch++;
    this.lastHeard = Date.now();
    const heartbeatMs = typeof welcome.heartbeatMs === 'number' ? welcome.heartbeatMs : 15_000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.beat(socket, heartbeatMs), heartbeatMs);
    const reconnected = this.everOpened;
    this.everOpened = true;
    // Resubscribe confirmed subscriptions first, then send everything that was waiting, in order.
    const waiting = [...this.pending].filter(([id]) => !id.startsWith('auth-'));
    for (const channel of this.channels.values()) {
      if (channel.confirmed && !channel.closed) {
        this.subscribeChannel(channel).catch((error) => this.emit('error', { error }));
      }
    }
    for (const [id, entry] of waiting) if (this.pending.has(id)) this.send(entry.build(id));
    const attempts = this.attempts;
    this.attempts = 0;
    if (reconnected) this.emit('reconnected', { attempts });
    clearTimeout(this.connectTimer);
    this.lastError = undefined;
    this.firstOpen.resolve();
  }

  private handle(frame: Record<string, any>): void {
    switch (frame.type) {
      case 'message': {
        const channel = this.channels.get(frame.subscription);
        if (channel !== undefined) channel.receive(this.delivery(channel, frame));
        // Sent before our unsubscribe arrived: hand it straight back for another member.
        else void this.request('control', (id) => ({ type: 'nack', id, deliveries: [frame.delivery], delayMs: 0 }));
        return;
      }
      case 'reply':
      case 'error': {
        const entry = frame.id === undefined ? undefined : this.pending.get(frame.id);
        if (entry === undefined) {
          if (frame.type === 'error') this.emit('error', { error: toError(frame) });
          return;
        }
        this.pending.delete(frame.id);
        if (frame.type === 'reply') entry.resolve(frame);
        else entry.reject(toError(frame));
        return;
      }
      case 'ping':
        this.send({ type: 'pong' });
        return;
      default:
        return;
    }
  }

  private delivery(channel: Channel, frame: Record<string, any>): RemoteDelivery {
    return new Delivery(this, channel, frame, this.epoch);
  }

  /** Whether deliveries received during `epoch` can still be settled. @internal */
  live(epoch: number): boolean {
    return epoch === this.epoch && this.ready;
  }

  /** Sends a settle request for one delivery. @internal */
  settle(epoch: number, frame: { type: string; deliveries: number[]; delayMs?: number; reason?: string }): Promise<void> {
    if (!this.live(epoch)) return Promise.resolve();
    return this.request('control', (id) => ({ ...frame, id })).then(() => undefined);
  }

  /** Acks made in one turn of the event loop travel in one frame. @internal */
  batchAck(delivery: number): Promise<void> {
    const batch = this.acks;
    if (batch.deliveries.length === 0) {
      // A macrotask, not a microtask: a burst of messages is acked in one frame.
      setTimeout(() => {
        const deliveries = batch.deliveries.splice(0);
        const waiters = batch.waiters.splice(0);
        this.request('control', (id) => ({ type: 'ack', id, deliveries })).then(
          () => waiters.forEach(([resolve]) => resolve()),
          (error) => waiters.forEach(([, reject]) => reject(error)),
        );
      }, 0);
    }
    batch.deliveries.push(delivery);
    return new Promise((resolve, reject) => batch.waiters.push([resolve, reject]));
  }

  private send(frame: Record<string, unknown>): void {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== OPEN) return;
    this.outbox.push(JSON.stringify(frame));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      later(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const frames = this.outbox;
    this.outbox = [];
    const socket = this.socket;
    if (frames.length === 0 || socket === undefined || socket.readyState !== OPEN) return;
    if (this.welcome?.batches !== true) {
      for (const frame of frames) socket.send(frame);
      return;
    }
    // An envelope stays well under the gateway's maxFrameBytes (a character is at most 3 bytes).
    const limit = Math.floor((typeof this.welcome.limits?.maxFrameBytes === 'number' ? this.welcome.limits.maxFrameBytes : 1_048_576) / 3) - 2;
    let batch: string[] = [];
    let size = 0;
    const sendBatch = () => {
      if (batch.length > 0) socket.send(batch.length === 1 ? batch[0] : `[${batch.join(',')}]`);
      batch = [];
      size = 0;
    };
    for (const frame of frames) {
      if (size + frame.length + 1 > limit) sendBatch();
      batch.push(frame);
      size += frame.length + 1;
    }
    sendBatch();
  }

  private beat(socket: WebSocketLike, heartbeatMs: number): void {
    if (socket !== this.socket) return;
    if (Date.now() - this.lastHeard > heartbeatMs * 2) {
      // The peer went silent: give up on this socket without waiting for a close handshake.
      socket.onclose = null;
      (socket as { terminate?: () => void }).terminate?.() ?? socket.close(4000, 'heartbeat timeout');
      this.lost(socket, 4000, 'no frame from the gateway within two heartbeats');
      return;
    }
    this.send({ type: 'ping', id: `hb-${++this.nextId}` });
  }

  private lost(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.outbox = [];
    const wasReady = this.ready;
    this.ready = false;
    clearInterval(this.heartbeat);
    for (const [id, entry] of this.pending) {
      if (entry.kind === 'control') {
        this.pending.delete(id);
        if (id.startsWith('auth-')) entry.reject(new ConnectionError(`the connection closed during authentication (${code} ${reason})`));
        else entry.resolve({});
      }
    }
    if (this.closed) return;
    if (FATAL_CODES.has(code)) {
      this.fail(new GatewayError('UNAUTHORIZED', `the gateway refused the connection: ${reason || 'unauthorized'}`));
      return;
    }
    // Once per outage: when an open connection drops, and when the very first attempt fails.
    if (wasReady || (!this.everOpened && this.attempts === 0)) this.emit('connectionLost', { code, reason, error: this.lastError });
    this.scheduleReconnect();
  }

  /** The first connection did not open in time: say so to everything waiting on it. */
  private giveUpFirstConnect(timeoutMs: number): void {
    if (this.closed || this.everOpened) return;
    const error = new ConnectionError(`cannot reach the gateway at ${this.address} within ${timeoutMs} ms${this.cause()}`, { cause: this.lastError });
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      entry.reject(error);
    }
    this.firstOpen.reject(error);
  }

  /** ` (ECONNREFUSED ...)` from the last socket error, or nothing. */
  private cause(): string {
    const error = this.lastError as { message?: unknown } | undefined;
    return typeof error?.message === 'string' && error.message !== '' ? ` (${error.message})` : '';
  }

  private scheduleReconnect(): void {
    const { reconnect } = this.options;
    if (reconnect === false) {
      const what = this.everOpened ? `the connection to the gateway at ${this.address} closed and reconnect is off` : `cannot reach the gateway at ${this.address}`;
      this.fail(new ConnectionError(`${what}${this.cause()}`, { cause: this.lastError }));
      return;
    }
    const initial = reconnect?.initialMs ?? 100;
    const max = reconnect?.maxMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.attempts, 30));
    this.attempts++;
    // Full jitter: many clients cut off at once do not come back at once.
    this.retryTimer = setTimeout(() => this.connect(), Math.random() * ceiling);
  }

  /** A problem no reconnect can fix: everything waiting fails with it. */
  private fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
    this.firstOpen.reject(error);
    this.socket?.close(1000);
    this.emit('error', { error });
  }

  private emit<K extends keyof ConnectionEvents>(type: K, event: ConnectionEvents[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

function toError(frame: Record<string, any>): GatewayError {
  return new GatewayError(String(frame.code ?? 'INTERNAL'), String(frame.message ?? 'the gateway reported an error'), {
    topic: frame.topic,
    retriable: frame.retriable === true,
  });
}
