// Request/reply over plain publish and subscribe, shared by the Bus and `omnibus/client`: a
// request is an ordinary message naming the requester's inbox topic in `reply-to` and when it
// gives up in `deadline`; the reply is published to that inbox carrying `request-id`. Each
// requester holds ONE inbox subscription, opened by its first request. Browser-safe.

import { ClosedError, ConfigurationError, RemoteError, TimeoutError } from './errors.js';
import type { Headers, Message, StoredMessage } from './message.js';
import { uuidv7 } from './uuid.js';

/** Headers of the request/reply exchange. */
export const REQUEST_HEADER = {
  /** On a request: where the reply goes (an inbox topic; on NATS, the reply subject). */
  replyTo: 'reply-to',
  /** On a request: milliseconds since the epoch after which nobody waits for the reply. */
  deadline: 'deadline',
  /** On a reply: the id of the request it answers. */
  requestId: 'request-id',
  /** On a failure reply: the responder's error message, `code` and `name`. */
  error: 'reply-error',
  errorCode: 'reply-error-code',
  errorName: 'reply-error-name',
} as const;

export interface RequestOptions {
  /** How long to wait for the reply before a TimeoutError; also the request's `ttlMs`. Default 5,000 ms. */
  timeoutMs?: number;
  headers?: Headers;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** A requester's inbox: `_inbox.<owner>`, one token below a root that tenants and grants can name. */
export function inboxTopic(owner: string): string {
  return `_inbox.${owner}`;
}

export function requestTimeout(topic: string, options: RequestOptions | undefined): number {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new ConfigurationError(`request to '${topic}': timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`, { topic });
  }
  return timeoutMs;
}

/** The headers a failure reply carries. */
export function failureHeaders(error: unknown): Headers {
  const headers: Headers = { [REQUEST_HEADER.error]: error instanceof Error ? error.message : String(error) };
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (typeof code === 'string' || typeof code === 'number') headers[REQUEST_HEADER.errorCode] = String(code);
  if (typeof name === 'string') headers[REQUEST_HEADER.errorName] = name;
  return headers;
}

/** The RemoteError a failure reply stands for, or undefined for an answer. */
export function remoteFailure(topic: string, headers: Readonly<Headers>): RemoteError | undefined {
  const message = headers[REQUEST_HEADER.error];
  if (message === undefined) return undefined;
  return new RemoteError(message, headers[REQUEST_HEADER.errorCode], headers[REQUEST_HEADER.errorName], { topic });
}

/** A received reply as the requester gets it: the message without its settle calls. */
export function replyOf<T>(message: StoredMessage): StoredMessage<T> {
  const { id, topic, data, headers, key, time, ttlMs, seq } = message;
  return { id, topic, data: data as T, headers, key, time, ttlMs, seq };
}

/** Waits on `promise` up to `timeoutMs`, then fails with a TimeoutError naming the topic. */
export function withTimeout<T>(topic: string, timeoutMs: number, start: (settle: (outcome: Promise<T>) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new TimeoutError(`no reply to the request on '${topic}' within ${timeoutMs} ms; is a responder running?`, timeoutMs, { topic }));
    }, timeoutMs);
    start((outcome) => {
      clearTimeout(timer);
      outcome.then(resolve, reject);
    });
  });
}

/** What an inbox needs from its owner: a subscription to its topic and a publish. */
export interface InboxTransport {
  subscribe(topic: string, handler: (message: Message) => void): Promise<{ close(): Promise<void> }>;
  publish(topic: string, data: unknown, options: { id: string; headers: Headers; ttlMs: number }): Promise<unknown>;
}

interface Pending {
  topic: string;
  settle(outcome: Promise<StoredMessage>): void;
}

/** The requester's side of the generic path: one inbox subscription, replies matched by request id. */
export class Inbox {
  readonly topic: string;
  private readonly pending = new Map<string, Pending>();
  private opening: Promise<{ close(): Promise<void> }> | undefined;
  private closed = false;

  constructor(
    owner: string,
    private readonly transport: InboxTransport,
  ) {
    this.topic = inboxTopic(owner);
  }

  request<T>(topic: string, data: unknown, timeoutMs: number, headers: Headers | undefined): Promise<StoredMessage<T>> {
    if (this.closed) return Promise.reject(new ClosedError('request on a closed inbox', { topic }));
    const id = uuidv7();
    const deadline = Date.now() + timeoutMs;
    const reply = withTimeout<StoredMessage>(topic, timeoutMs, (settle) => this.pending.set(id, { topic, settle }));
    // Registered before publishing: an in-process responder can answer before publish resolves.
    void this.send(id, topic, data, {
      ...headers,
      [REQUEST_HEADER.replyTo]: this.topic,
      [REQUEST_HEADER.deadline]: String(deadline),
    }, timeoutMs).catch((error) => this.finish(id, Promise.reject(error)));
    return reply.finally(() => this.pending.delete(id)) as Promise<StoredMessage<T>>;
  }

  /** Rejects what is still waiting with ClosedError and closes the inbox subscription. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [id, { topic }] of this.pending) this.finish(id, Promise.reject(new ClosedError('closed while waiting for a reply', { topic })));
    const subscription = await this.opening?.catch(() => undefined);
    await subscription?.close();
  }

  private async send(id: string, topic: string, data: unknown, headers: Headers, ttlMs: number): Promise<void> {
    this.opening ??= this.transport.subscribe(this.topic, (message) => this.receive(message));
    // A failed subscribe is forgotten, so the next request tries again.
    await this.opening.catch((error) => {
      this.opening = undefined;
      throw error;
    });
    await this.transport.publish(topic, data, { id, headers, ttlMs });
  }

  private receive(message: Message): void {
    const id = message.headers[REQUEST_HEADER.requestId];
    const pending = id === undefined ? undefined : this.pending.get(id);
    // Late replies (after a timeout) and strays find nobody waiting: dropped.
    if (pending === undefined) return;
    const failure = remoteFailure(pending.topic, message.headers);
    this.finish(id!, failure === undefined ? Promise.resolve(replyOf(message)) : Promise.reject(failure));
  }

  private finish(id: string, outcome: Promise<StoredMessage>): void {
    const pending = this.pending.get(id);
    if (pending === undefined) {
      outcome.catch(() => {});
      return;
    }
    this.pending.delete(id);
    pending.settle(outcome);
  }
}
