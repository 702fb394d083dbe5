// The WebSockets behind one client, one after another: opens each, keeps it alive with
// heartbeats, reconnects with exponential backoff and full jitter when it drops, and writes
// the frames of one event-loop turn together.

import { ConnectionError } from '../core/errors.js';
import { CLOSE } from '../protocol/close-codes.js';
import type { ClientFrame, ServerFrame, WelcomeFrame } from '../protocol/frames.js';
import type { ConnectionEvents, ConnectionOptions, WebSocketConstructor, WebSocketLike } from './connection.js';
import { GatewayError } from './errors.js';
import { backoffDelay } from '../core/backoff.js';
import { TurnBuffer } from '../driver-kit/turn.js';

/** What the socket asks of the connection it carries. */
export interface SocketHost {
  /** A new WebSocket said welcome: authenticate on it with `send`; rejecting fails the client. */
  authenticate(welcome: WelcomeFrame, send: (frame: ClientFrame) => void): Promise<void>;
  /** Open and authenticated: send what waits. */
  resume(): void;
  received(frame: ServerFrame): void;
  /** The WebSocket closed, with what it was doing; the next one is on its way unless closed. */
  dropped(code: number, reason: string): void;
  /** Everything waiting fails with `error`. */
  abandon(error: unknown): void;
  emit<K extends keyof ConnectionEvents>(type: K, event: ConnectionEvents[K]): void;
}

const OPEN = 1;

export class Socket {
  /** The gateway's welcome frame: its capabilities and limits. */
  welcome: WelcomeFrame | undefined;
  /** The address as the user gave it, for messages (without our query parameters). */
  readonly address: string;
  private ws: WebSocketLike | undefined;
  private opens = 0;
  private isReady = false;
  private isClosed = false;
  private everOpened = false;
  private attempts = 0;
  private pings = 0;
  private lastHeard = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames of this turn, sent together (in one batch envelope when the gateway takes them). */
  /** Frames of this turn, sent together (in one batch envelope when the gateway takes them). */
  private readonly outbox = new TurnBuffer<string>((frames) => this.write(frames));
  /** What the last failed WebSocket said, for the error that reports it. */
  private lastError: unknown;
  private readonly firstOpen: { resolve(): void; reject(error: unknown): void; promise: Promise<void> };
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly url: string;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly host: SocketHost,
  ) {
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
  }

  /** Opens the first WebSocket; apart from the constructor, so the host is whole when it hears from it. */
  start(): void {
    this.connect();
  }

  /** Resolves once the first connection is open and authenticated. */
  opened(): Promise<void> {
    return this.firstOpen.promise;
  }

  /** Open and authenticated: requests go out at once. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Counts the authenticated WebSockets: deliveries of an earlier one can no longer be settled. */
  get epoch(): number {
    return this.opens;
  }

  /** Closed by the user, or failed for good. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Queues a frame for the end of this turn; dropped when no WebSocket is open. */
  send(frame: ClientFrame): void {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== OPEN) return;
    this.outbox.push(JSON.stringify(frame));
  }

  /** Sends what this turn queued, then closes for good: everything still waiting fails with `error`. */
  close(error: unknown): void {
    this.outbox.flushNow();
    this.isClosed = true;
    this.isReady = false;
    this.stopTimers();
    this.host.abandon(error);
    this.firstOpen.reject(error);
    this.ws?.close(CLOSE.normal, 'client closed');
  }

  /** A problem no reconnect can fix: everything waiting fails with it. */
  fail(error: unknown): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isReady = false;
    this.stopTimers();
    this.host.abandon(error);
    this.firstOpen.reject(error);
    this.ws?.close(CLOSE.normal);
    this.host.emit('error', { error });
  }

  private connect(): void {
    if (this.isClosed) return;
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocketClass(this.url);
    } catch (error) {
      this.host.emit('error', { error });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let settled = false;
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      let value: ServerFrame | ServerFrame[];
      try {
        value = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data));
      } catch {
        return;
      }
      for (const frame of Array.isArray(value) ? value : [value]) {
        if (typeof frame !== 'object' || frame === null) continue;
        if (frame.type === 'welcome') void this.welcomed(ws, frame);
        else this.host.received(frame);
      }
    };
    ws.onerror = (event) => {
      this.lastError = (event as { error?: unknown })?.error ?? event;
    };
    ws.onclose = (event) => {
      if (settled) return;
      settled = true;
      this.lost(ws, event.code, event.reason);
    };
  }

  private async welcomed(ws: WebSocketLike, welcome: WelcomeFrame): Promise<void> {
    this.welcome = welcome;
    try {
      await this.host.authenticate(welcome, (frame) => ws.send(JSON.stringify(frame)));
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.ws !== ws || this.isClosed) return;
    this.isReady = true;
    this.opens++;
    this.lastHeard = Date.now();
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.beat(ws, welcome.heartbeatMs), welcome.heartbeatMs);
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.host.resume();
    const attempts = this.attempts;
    this.attempts = 0;
    if (reconnected) this.host.emit('reconnected', { attempts });
    clearTimeout(this.connectTimer);
    this.lastError = undefined;
    this.firstOpen.resolve();
  }

  private write(frames: string[]): void {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== OPEN) return;
    if (this.welcome?.batches !== true) {
      for (const frame of frames) ws.send(frame);
      return;
    }
    // An envelope stays well under the gateway's maxFrameBytes (a character is at most 3 bytes).
    const limit = Math.floor(this.welcome.limits.maxFrameBytes / 3) - 2;
    let batch: string[] = [];
    let size = 0;
    const sendBatch = () => {
      if (batch.length > 0) ws.send(batch.length === 1 ? batch[0] : `[${batch.join(',')}]`);
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

  private beat(ws: WebSocketLike, heartbeatMs: number): void {
    if (ws !== this.ws) return;
    if (Date.now() - this.lastHeard > heartbeatMs * 2) {
      // The peer went silent: give up on this WebSocket without waiting for a close handshake.
      ws.onclose = null;
      (ws as { terminate?: () => void }).terminate?.() ?? ws.close(CLOSE.heartbeat, 'heartbeat timeout');
      this.lost(ws, CLOSE.heartbeat, 'no frame from the gateway within two heartbeats');
      return;
    }
    this.send({ type: 'ping', id: `hb-${++this.pings}` });
  }

  private lost(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.outbox.clear();
    const wasReady = this.isReady;
    this.isReady = false;
    clearInterval(this.heartbeat);
    this.host.dropped(code, reason);
    if (this.isClosed) return;
    if (code === CLOSE.unauthorized) {
      this.fail(new GatewayError('UNAUTHORIZED', `the gateway refused the connection: ${reason || 'unauthorized'}`));
      return;
    }
    // Once per outage: when an open connection drops, and when the very first attempt fails.
    if (wasReady || (!this.everOpened && this.attempts === 0)) this.host.emit('connectionLost', { code, reason, error: this.lastError });
    this.scheduleReconnect();
  }

  /** The first connection did not open in time: say so to everything waiting on it. */
  private giveUpFirstConnect(timeoutMs: number): void {
    if (this.isClosed || this.everOpened) return;
    const error = new ConnectionError(`cannot reach the gateway at ${this.address} within ${timeoutMs} ms${this.cause()}`, { cause: this.lastError });
    this.host.abandon(error);
    this.firstOpen.reject(error);
  }

  /** ` (ECONNREFUSED ...)` from the last WebSocket error, or nothing. */
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
    // Full jitter: many clients cut off at once do not come back at once.
    const delay = backoffDelay(++this.attempts, { initialMs: reconnect?.initialMs ?? 100, maxMs: reconnect?.maxMs ?? 10_000 }, 'full');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private stopTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
  }
}
