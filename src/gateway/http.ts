// The HTTP side: POST /v1/publish (JSON, CloudEvents structured or binary), GET /v1/messages
// (history from a position), GET /v1/stream (Server-Sent Events, Last-Event-ID resume),
// GET /v1/topics, GET /v1/presence, GET /v1/stats (the dashboard's figures), GET /metrics
// (Prometheus), GET /healthz, and the dashboard's page at /.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus } from '../core/bus.js';
import { fromCloudEvent } from '../core/cloud-event.js';
import type { Logger } from '../core/logger.js';
import type { Message } from '../core/message.js';
import { httpStatus } from '../protocol/errors.js';
import type { Limits } from '../protocol/limits.js';
import { AuthError, type Authenticator, type Principal } from './auth.js';
import { clientOf, type ConnectionCounter } from './connections.js';
import type { Dashboard } from './dashboard.js';
import { FrameError, messageFields, publishEntry, type PublishEntry } from './frames.js';
import { historyQuery, parseFrom, writeHistoryPage } from './history.js';
import type { OriginCheck } from './origins.js';
import type { Member, Presence } from './presence.js';
import { ClientBuckets } from './rate.js';
import { logRefusal } from './refusals.js';
import { describeError, published, publishItems, publishToBus } from './publishing.js';
import type { StatsView } from './stats-view.js';
import { checkPattern, openSubscription } from './subscriptions.js';
import type { TopicCounts } from './topics.js';

export interface HttpHost {
  bus: Bus;
  auth: Authenticator;
  limits: Limits;
  heartbeatMs: number;
  connections: ConnectionCounter;
  origins: OriginCheck;
  topics: TopicCounts;
  /** Absent when the dashboard is turned off. */
  dashboard: Dashboard | undefined;
  /** The AsyncAPI document for a client reaching the gateway at `host`, or undefined without a catalogue. */
  asyncapi(host: string): Record<string, unknown> | undefined;
  stats(principal: Principal): Promise<StatsView>;
  presence: Presence;
  logger: Logger;
  health(): Promise<{ ok: boolean; body: Record<string, unknown> }>;
  metrics(): Promise<{ contentType: string; text: string }>;
  track(close: () => void): () => void;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: ServerResponse, error: unknown, principal?: Principal): void {
  const described = describeError(error, 'INTERNAL', principal);
  // The rest of an oversized body is never read: close the connection after the answer.
  if (described.code === 'TOO_LARGE') res.setHeader('connection', 'close');
  json(res, httpStatus(described.code), { error: described });
}

async function principalOf(req: IncomingMessage, url: URL, auth: Authenticator): Promise<Principal> {
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : (url.searchParams.get('access_token') ?? undefined);
  if (token !== undefined) {
    try {
      return await auth.verify(token);
    } catch (error) {
      throw new FrameError('UNAUTHORIZED', (error as AuthError).message);
    }
  }
  const anonymous = auth.anonymousPrincipal();
  if (anonymous === undefined) throw new FrameError('UNAUTHORIZED', 'a bearer token is required: Authorization: Bearer <token>');
  return anonymous;
}

/** How much of an oversized body is read and discarded, at least, before the connection is cut. */
const DISCARD_BYTES = 16 * 1024 * 1024;

/**
 * The body, up to `limit` bytes. Past it the rest is read and thrown away rather than the
 * connection reset, so the client receives the 413 instead of a broken pipe; a client that
 * keeps sending far beyond it is cut off.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // A body parser mounted before the gateway (express.json()) has read it already: waiting would hang.
  if (req.readableEnded || (req as { body?: unknown }).body !== undefined) {
    return Promise.reject(new FrameError('BAD_FRAME', 'the request body was already read by middleware mounted before the gateway; mount body parsers on your own routes only'));
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      if (size - chunk.length <= limit) {
        chunks = [];
        reject(new FrameError('TOO_LARGE', `the request body exceeds maxFrameBytes (${limit} bytes); split it into smaller requests`));
      }
      if (size > Math.max(16 * limit, DISCARD_BYTES)) req.destroy();
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Publish entries from a request body in any accepted form. */
function entriesOf(req: IncomingMessage, body: Buffer): { entries: PublishEntry[]; batch: boolean } {
  const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
  const ceType = req.headers['ce-type'];
  if (req.headers['ce-specversion'] !== undefined && typeof ceType === 'string') {
    // CloudEvents binary mode: attributes in ce-* headers, the data is the body.
    const headers: Record<string, string> = {};
    let key: string | undefined;
    for (const [name, value] of Object.entries(req.headers)) {
      if (!name.startsWith('ce-') || typeof value !== 'string') continue;
      const attribute = name.slice(3);
      if (attribute === 'partitionkey') key = value;
      else if (!['specversion', 'id', 'type', 'source', 'time', 'sequence'].includes(attribute)) headers[attribute] = value;
    }
    const data = contentType.endsWith('json') ? parseJson(body) : new Uint8Array(body);
    const id = req.headers['ce-id'];
    return { entries: [{ topic: ceType, data, messageId: typeof id === 'string' ? id : undefined, key, headers }], batch: false };
  }
  const value = parseJson(body);
  if (contentType === 'application/cloudevents+json' || contentType === 'application/cloudevents-batch+json') {
    const events = Array.isArray(value) ? value : [value];
    const entries = events.map((event) => {
      let message;
      try {
        message = fromCloudEvent(event);
      } catch (error) {
        throw new FrameError('BAD_FRAME', (error as Error).message);
      }
      return { topic: message.topic, data: message.data, messageId: message.id, key: message.key, headers: message.headers };
    });
    return { entries, batch: Array.isArray(value) };
  }
  if (typeof value === 'object' && value !== null && Array.isArray((value as { messages?: unknown }).messages)) {
    return { entries: (value as { messages: unknown[] }).messages.map(publishEntry), batch: true };
  }
  return { entries: [publishEntry(value)], batch: false };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new FrameError('BAD_FRAME', 'the body is not valid JSON');
  }
}

export function httpHandler(host: HttpHost): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const buckets = new ClientBuckets(host.limits.publishRate);
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /healthz') {
      const { ok, body } = await host.health();
      json(res, ok ? 200 : 503, body);
      return true;
    }
    if (host.dashboard !== undefined && (await host.dashboard.serve(req, res, url.pathname))) return true;
    if (!['POST /v1/publish', 'GET /v1/messages', 'GET /v1/stream', 'GET /v1/topics', 'GET /v1/presence', 'GET /v1/stats', 'GET /asyncapi.json', 'GET /metrics'].includes(route)) return false;
    let principal: Principal | undefined;
    try {
      if (!host.origins.admits(req)) throw new FrameError('FORBIDDEN', host.origins.refusal(req));
      principal = await principalOf(req, url, host.auth);
      if (route === 'POST /v1/publish') await publish(host, principal, req, res, buckets);
      else if (route === 'GET /v1/messages') await history(host, principal, url, res);
      else if (route === 'GET /v1/stream') await stream(host, principal, url, req, res);
      else if (route === 'GET /metrics') await metrics(host, principal, res);
      else if (route === 'GET /v1/stats') json(res, 200, await host.stats(principal));
      else if (route === 'GET /asyncapi.json') catalogue(host, req, res);
      else if (route === 'GET /v1/presence') presence(host, principal, url, res);
      else json(res, 200, { topics: host.topics.visibleTo(principal) });
    } catch (error) {
      const described = describeError(error, 'INTERNAL', principal);
      logRefusal(host.logger, described, { transport: 'http', route, address: req.socket.remoteAddress, name: principal?.name });
      if (!res.headersSent) fail(res, error, principal);
      else res.end(`event: error\ndata: ${JSON.stringify(described)}\n\n`);
    }
    return true;
  };
}

function catalogue(host: HttpHost, req: IncomingMessage, res: ServerResponse): void {
  const document = host.asyncapi(req.headers.host ?? 'localhost');
  if (document === undefined) throw new FrameError('NOT_FOUND', 'this gateway has no event catalogue (the gateway option asyncapi)');
  json(res, 200, document);
}

/** The metrics name every tenant's patterns, so they need a token that may subscribe to all of them. */
async function metrics(host: HttpHost, principal: Principal, res: ServerResponse): Promise<void> {
  if (principal.tenant !== undefined || !principal.canSubscribe('>')) {
    throw new FrameError('FORBIDDEN', "metrics need a token without a tenant that may subscribe to '>'");
  }
  const { contentType, text } = await host.metrics();
  res.writeHead(200, { 'content-type': contentType });
  res.end(text);
}

/** The clients subscribed on a pattern the caller may subscribe to itself. */
function presence(host: HttpHost, principal: Principal, url: URL, res: ServerResponse): void {
  const pattern = url.searchParams.get('pattern');
  if (pattern === null) throw new FrameError('BAD_FRAME', 'pattern= is required, e.g. /v1/presence?pattern=chat.room-1');
  checkPattern(principal, { pattern });
  json(res, 200, { pattern, clients: host.presence.list(principal, pattern) });
}

/** `publishRate` applies per client: the token's principal, or the address of an anonymous caller. */
async function publish(host: HttpHost, principal: Principal, req: IncomingMessage, res: ServerResponse, buckets: ClientBuckets): Promise<void> {
  const body = await readBody(req, host.limits.maxFrameBytes);
  const { entries, batch } = entriesOf(req, body);
  if (!buckets.take(clientOf(principal, req), entries.length)) {
    const { perSecond } = host.limits.publishRate;
    throw new FrameError('RATE_LIMITED', `publish rate above ${perSecond} messages per second for this client; slow down and retry`);
  }
  const items = publishItems(principal, entries, host.limits);
  const results = await publishToBus(host.bus, items, batch);
  host.topics.count(items);
  const out = results.map(published);
  json(res, 200, batch ? { results: out } : out[0]);
}

async function history(host: HttpHost, principal: Principal, url: URL, res: ServerResponse): Promise<void> {
  const query = historyQuery(url);
  const aborter = new AbortController();
  // 'close' also follows a complete answer, when aborting no longer matters.
  res.once('close', () => aborter.abort());
  await writeHistoryPage(res, query, { bus: host.bus, principal, limits: host.limits, signal: aborter.signal });
}

async function stream(host: HttpHost, principal: Principal, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const pattern = url.searchParams.get('pattern') ?? url.searchParams.get('topic');
  if (pattern === null) throw new FrameError('BAD_FRAME', 'pattern= is required');
  const lastEventId = req.headers['last-event-id'];
  const after = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : (url.searchParams.get('after') ?? undefined);
  checkPattern(principal, { pattern });
  const claimed = host.connections.claim(clientOf(principal, req));
  if (claimed === undefined) throw new FrameError('TOO_MANY_CONNECTIONS', host.connections.refusal());
  const release = claimed;
  let closed = false;
  /** Set once the stream counts in presence. */
  let leave: (() => void) | undefined;
  const member: Member = { id: randomUUID(), transport: 'sse', principal };
  let subscription: Awaited<ReturnType<typeof openSubscription>>['subscription'] | undefined;
  const untrack = host.track(() => end());
  const beat = setInterval(() => res.write(': ping\n\n'), host.heartbeatMs);
  beat.unref?.();
  function end(): void {
    if (closed) return;
    closed = true;
    clearInterval(beat);
    untrack();
    release();
    leave?.();
    void subscription?.close();
    res.end();
  }
  // Watched from the start: a client gone while the subscription opens must not leave it open.
  req.once('close', end);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  let opened;
  try {
    opened = await openSubscription(
      host.bus,
      principal,
      { pattern, from: parseFrom(url.searchParams.get('from')), after, group: url.searchParams.get('group') ?? undefined },
      (message: Message, topic) => {
        // Gone meanwhile: back to the broker, for another member or a resume.
        if (closed || res.destroyed) return message.nack({ delayMs: 0 });
        const id = message.seq === undefined ? '' : `id: ${message.seq}\n`;
        res.write(`${id}event: message\ndata: ${JSON.stringify(messageFields(message, topic))}\n\n`);
        void message.ack();
        if (res.writableLength > host.limits.maxSendBufferBytes) {
          host.logger.warn({ client: member.id, name: principal.name, pattern }, 'slow consumer: Server-Sent Events stream cut off');
          res.write(`event: error\ndata: ${JSON.stringify({ code: 'SLOW_CONSUMER', message: 'send buffer full' })}\n\n`);
          end();
        }
      },
    );
  } catch (error) {
    res.write(`event: error\ndata: ${JSON.stringify(describeError(error, 'SUBSCRIBE_FAILED', principal))}\n\n`);
    end();
    return;
  }
  subscription = opened.subscription;
  if (closed) {
    opened.start(); // held deliveries go back through the handler, which nacks them
    await subscription.close();
    return;
  }
  res.write(`event: ready\ndata: ${JSON.stringify({ recovered: opened.recovered, earliest: opened.earliest, client: member.id })}\n\n`);
  host.presence.join(member, pattern);
  leave = () => host.presence.leave(member, pattern);
  opened.start();
}
