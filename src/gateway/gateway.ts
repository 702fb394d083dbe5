// The gateway: HTTP + WebSocket + SSE on one port, standalone or mounted into a Node http
// server, Express or Fastify. It owns no bus: it serves the one it is given.

import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { silentLogger, type Logger } from '../core/logger.js';
import { AuthError, Authenticator, type Principal } from './auth.js';
import { clientOf, ConnectionCounter } from './connections.js';
import { Dashboard } from './dashboard.js';
import { ConfigurationError } from '../core/errors.js';
import { isLoopback, OriginCheck } from './origins.js';
import { httpHandler } from './http.js';
import { metricsRegistry } from './metrics.js';
import { resolveLimits, type GatewayOptions } from './options.js';
import { RecentFailures } from './recent-failures.js';
import { Presence } from './presence.js';
import { logRefusal } from './refusals.js';
import { Session } from './session.js';
import { subscriptionsVisibleTo, type StatsView } from './stats-view.js';
import { TopicCounts } from './topics.js';
import type { Bus } from '../core/bus.js';
import type { GroupLag } from '../core/lag.js';
import { httpStatus, type ErrorCode } from '../protocol/errors.js';
import { PROTOCOL_VERSION, type WelcomeFrame } from '../protocol/frames.js';
import type { Limits } from '../protocol/limits.js';

/** How long one fetch of consumer lag serves GET /v1/stats. */
const LAG_REFRESH_MS = 2_000;

export class Gateway {
  readonly bus: Bus;
  readonly path: string;
  readonly limits: Limits;
  private readonly auth: Authenticator;
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private readonly streams = new Set<() => void>();
  private readonly topics = new TopicCounts();
  private readonly failures: RecentFailures;
  private readonly catalogue: boolean;
  /** The last lag fetch; `at` is set once it settled. */
  private lag: { at?: number; figures: Promise<GroupLag[]> } | undefined;
  private readonly connectionCounter: ConnectionCounter;
  private readonly origins: OriginCheck;
  private readonly insecure: boolean;
  private readonly handleHttp: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  private readonly welcome: Omit<WelcomeFrame, 'authenticated' | 'client'>;
  private readonly presence: Presence;
  private server: Server | undefined;
  private closing: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  /** Made on the first scrape: default metrics start their collectors when registered. */
  private registry: Registry | undefined;

  constructor(options: GatewayOptions) {
    this.bus = options.bus;
    this.path = options.path ?? '/v1/ws';
    this.limits = resolveLimits(options.limits);
    this.auth = new Authenticator(options.auth);
    this.logger = options.logger ?? silentLogger;
    this.presence = new Presence(this.bus, this.logger, options.presenceEvents ?? true);
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes, perMessageDeflate: false });
    this.connectionCounter = new ConnectionCounter(this.limits.maxConnectionsPerClient);
    this.origins = new OriginCheck(options.allowedOrigins);
    this.insecure = options.insecure ?? false;
    this.failures = new RecentFailures(this.bus);
    this.catalogue = options.asyncapi !== undefined;
    // The bus's, with the payload limit the gateway itself sets.
    const { maxPayloadBytes, ...shared } = this.bus.capabilities;
    const capabilities = { drivers: this.bus.drivers.map((entry) => entry.name), ...shared, maxPayloadBytes: Math.min(maxPayloadBytes, this.limits.maxMessageBytes) };
    this.welcome = {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      heartbeatMs: this.heartbeatMs,
      authRequired: this.auth.required,
      // Batch envelopes (docs/protocol.md) are understood from clients, and acks without an id.
      batches: true,
      acksWithoutId: true,
      capabilities,
      limits: {
        maxFrameBytes: this.limits.maxFrameBytes,
        maxMessageBytes: this.limits.maxMessageBytes,
        maxBatch: this.limits.maxBatch,
        maxSubscriptions: this.limits.maxSubscriptions,
        publishRate: this.limits.publishRate,
        maxUnacked: this.limits.maxUnacked,
        maxConnectionsPerClient: this.limits.maxConnectionsPerClient,
      },
    };
    const host = {
      bus: this.bus,
      auth: this.auth,
      limits: this.limits,
      heartbeatMs: this.heartbeatMs,
      connections: this.connectionCounter,
      origins: this.origins,
      topics: this.topics,
      dashboard: options.dashboard === false ? undefined : new Dashboard(),
      stats: (principal: Principal) => this.stats(principal),
      asyncapi: (host: string) => {
        const { asyncapi } = options;
        if (asyncapi === undefined) return undefined;
        // The gateway is the server its clients reach, by the address they used.
        const servers = { gateway: { host, protocol: 'ws', pathname: this.path, description: 'the Omnibus gateway (WebSocket; HTTP publish and SSE on the same port)' } };
        return asyncapi.catalog.toAsyncAPI({ title: asyncapi.title ?? 'Omnibus events', version: asyncapi.version ?? '1.0.0', servers });
      },
      presence: this.presence,
      logger: this.logger,
      health: () => this.health(),
      metrics: () => this.metrics(),
      track: (close: () => void) => {
        this.streams.add(close);
        return () => this.streams.delete(close);
      },
    };
    this.handleHttp = httpHandler(host);
  }

  /**
   * A Node `request` listener that is also Express/Connect middleware: requests for other
   * paths go to `next` (or get a 404 when there is none).
   */
  readonly handleRequest = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    if (this.closing !== undefined) {
      res.writeHead(httpStatus('SHUTTING_DOWN'), { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: { code: 'SHUTTING_DOWN', message: 'the gateway is shutting down' } }));
      return;
    }

    this.handleHttp(req, res).then(
      (handled) => {
        if (handled) return;
        if (next !== undefined) next();
        else {
          res.writeHead(httpStatus('NOT_FOUND'), { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } }));
        }
      },
      (error) => (next !== undefined ? next(error) : res.destroy(error)),
    );
  };

  /** Handles an HTTP upgrade; returns false (and leaves the socket alone) for other paths. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== this.path) return false;
    socket.on('error', () => {});
    if (this.closing !== undefined) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return true;
    }
    const refuse = (code: ErrorCode, message: string, principal?: Principal) => {
      logRefusal(this.logger, { code, message }, { transport: 'upgrade', address: req.socket.remoteAddress, name: principal?.name });
      refuseUpgrade(socket, code, message);
    };
    if (!this.origins.admits(req)) {
      refuse('FORBIDDEN', this.origins.refusal(req));
      return true;
    }
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : (url.searchParams.get('access_token') ?? undefined);
    const accept = (principal: Principal | undefined) => {
      const release = this.connectionCounter.claim(clientOf(principal, req));
      if (release === undefined) return refuse('TOO_MANY_CONNECTIONS', this.connectionCounter.refusal(), principal);
      socket.once('close', release);
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const session = new Session(ws, this.sessionHost, principal, url.searchParams.get('frames') === 'batch', release);
        this.sessions.add(session);
      });
    };
    if (token === undefined) {
      accept(undefined);
      return true;
    }
    this.auth.verify(token).then(accept, (error: AuthError) => refuse('UNAUTHORIZED', error.message));
    return true;
  };

  /** Serves WebSocket upgrades of an existing server (for Express, Fastify or plain http). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.handleUpgrade(req, socket, head) && server.listenerCount('upgrade') === 1) socket.destroy();
    });
  }

  /**
   * Starts a standalone server on `host` (default loopback); resolves with the port it
   * listens on. Without auth it refuses any other address unless `insecure` is set.
   */
  async listen(port = 4000, host = '127.0.0.1'): Promise<number> {
    if (!this.auth.configured && !this.insecure && !isLoopback(host)) {
      throw new ConfigurationError(
        `the gateway has no auth, so on ${host} anyone who can reach it could read and publish everything; configure auth (API keys or JWT), bind 127.0.0.1, or set insecure: true (omnibus serve --insecure)`,
      );
    }
    this.origins.loopbackOnly = isLoopback(host);
    const server = createServer((req, res) => this.handleRequest(req, res));
    this.attach(server);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  /** Connected WebSocket clients. */
  get connections(): number {
    return this.sessions.size;
  }

  /**
   * Stops accepting, tells every client, waits up to `timeoutMs` for publishes in flight,
   * and closes the connections. The bus is the caller's to close.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.closing ??= (async () => {
      this.logger.info({ connections: this.sessions.size, streams: this.streams.size }, 'gateway closing: refusing new connections, waiting for publishes in flight');
      const server = this.server;
      const stopped = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + timeoutMs;
      while ([...this.sessions].some((session) => session.pending > 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const session of [...this.sessions]) session.shutdown('server shutting down');
      for (const end of [...this.streams]) end();
      for (const client of this.wss.clients) client.terminate();
      server?.closeAllConnections?.();
      await stopped;
      this.wss.close();
      this.failures.close();
      // The leaves of everyone just disconnected, for the other gateways on the broker.
      await this.presence.flush(Math.max(0, deadline - Date.now()));
    })();
    return this.closing;
  }

  private get sessionHost() {
    return {
      bus: this.bus,
      auth: this.auth,
      limits: this.limits,
      heartbeatMs: this.heartbeatMs,
      logger: this.logger,
      welcome: this.welcome,
      topics: this.topics,
      connections: this.connectionCounter,
      presence: this.presence,
      forget: (session: Session) => this.sessions.delete(session),
    };
  }

  private async metrics(): Promise<{ contentType: string; text: string }> {
    this.registry ??= metricsRegistry({ bus: this.bus, connections: () => this.sessions.size, streams: () => this.streams.size });
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  private async stats(principal: Principal): Promise<StatsView> {
    // Lag costs broker queries: one fetch at a time, and each serves every viewer for LAG_REFRESH_MS after it settles.
    if (this.lag === undefined || (this.lag.at !== undefined && Date.now() - this.lag.at > LAG_REFRESH_MS)) {
      const fetching: { at?: number; figures: Promise<GroupLag[]> } = { figures: this.bus.lag().catch(() => []) };
      void fetching.figures.then(() => (fetching.at = Date.now()));
      this.lag = fetching;
    }
    // Connection figures count every tenant's clients: only a token that may read everything sees them.
    const operator = principal.tenant === undefined && principal.canSubscribe('>');
    return {
      gateway: { path: this.path, ...(operator ? { connections: this.sessions.size, streams: this.streams.size, uptimeMs: Date.now() - this.startedAt } : {}) },
      drivers: this.bus.drivers.map((entry) => entry.name),
      catalogue: this.catalogue,
      subscriptions: subscriptionsVisibleTo(this.bus, principal, await this.lag.figures),
      failures: this.failures.visibleTo(principal),
    };
  }

  /** `ok` only while every driver is connected and the gateway is not closing. */
  private async health(): Promise<{ ok: boolean; body: Record<string, unknown> }> {
    const { ok, drivers } = await this.bus.health();
    const status = this.closing !== undefined ? 'shutting-down' : ok ? 'ok' : 'driver-down';
    return { ok: status === 'ok', body: { status, drivers, connections: this.sessions.size, uptimeMs: Date.now() - this.startedAt } };
  }
}

/** Answers an upgrade request with an HTTP error instead of a WebSocket. */
function refuseUpgrade(socket: Duplex, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const status = httpStatus(code);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** A gateway over `options.bus`; mount it with `handleRequest`/`attach`, or `listen(port)`. */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
