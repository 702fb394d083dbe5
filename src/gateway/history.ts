// GET /v1/messages: one page of history, read as a snapshot through `bus.read()` and
// streamed out as it is read. A page ends at `limit` messages, at `maxHistoryBytes`, at the
// request's deadline, or at the newest message stored when the request came in; it closes
// its read when the request closes.

import type { ServerResponse } from 'node:http';
import type { Bus } from '../core/bus.js';
import type { From } from '../core/driver.js';
import type { StoredMessage } from '../core/message.js';
import type { Limits } from '../protocol/limits.js';
import type { Principal } from './auth.js';
import { describeError, type ErrorDescription } from './publishing.js';
import { FrameError, messageFields } from './frames.js';
import { reaches } from './presence.js';
import { checkPattern } from './subscriptions.js';

export interface HistoryQuery {
  pattern: string;
  from: Exclude<From, 'latest'> | 'latest';
  /** Leave out this seq itself (a page's `next`). */
  after: string | undefined;
  limit: number;
}

/** The largest `limit` a page may ask for. */
export const MAX_HISTORY_LIMIT = 10_000;

/** `topic=<pattern>&from=earliest|latest|<seq>|time:<ms or ISO>&after=<seq>&limit=<1..10000>`; bad values are the caller's mistake. */
export function historyQuery(url: URL): HistoryQuery {
  const pattern = url.searchParams.get('topic') ?? url.searchParams.get('pattern');
  if (pattern === null) throw new FrameError('BAD_FRAME', 'topic= is required (a topic or pattern)');
  const rawLimit = url.searchParams.get('limit') ?? '100';
  const limit = /^\d+$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!(limit >= 1 && limit <= MAX_HISTORY_LIMIT)) {
    throw new FrameError('BAD_FRAME', `limit=${rawLimit}: must be a whole number from 1 to ${MAX_HISTORY_LIMIT}`);
  }
  const after = nonEmpty(url, 'after');
  const from = after !== undefined ? { seq: after } : (parseFrom(url.searchParams.get('from')) ?? 'earliest');
  return { pattern, from, after, limit };
}

/** `from=earliest|latest|<seq>|time:<ms or ISO>`, for history and the SSE stream. */
export function parseFrom(value: string | null): From | undefined {
  if (value === null || value === '') return undefined;
  if (value === 'earliest' || value === 'latest') return value;
  if (value.startsWith('time:')) {
    const raw = value.slice(5);
    const time = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (Number.isNaN(time)) throw new FrameError('BAD_FRAME', `from=${value}: not a time (milliseconds or ISO 8601)`);
    return { time };
  }
  return { seq: value };
}

function nonEmpty(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name);
  return value === null || value === '' ? undefined : value;
}

interface PageOptions {
  bus: Bus;
  principal: Principal;
  limits: Limits;
  /** Aborted when the request closes. */
  signal: AbortSignal;
}

/**
 * Streams `{ "messages": [...], "next": <seq>, "more": <bool> }`. `more` is true when the
 * page stopped before the snapshot's end (limit, bytes or deadline): ask again with
 * `after=<next>`. A failure after the first byte ends the page with an `error` member.
 */
export async function writeHistoryPage(res: ServerResponse, query: HistoryQuery, { bus, principal, limits, signal }: PageOptions): Promise<void> {
  checkPattern(principal, { pattern: query.pattern });
  const busPattern = principal.toBus(query.pattern);
  const messages = query.from === 'latest' ? empty() : bus.read(busPattern, { from: query.from });
  const iterator = messages[Symbol.asyncIterator]();
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(limits.historyTimeoutMs)]);
  // The first message decides the status: a bad position or a missing capability is an error
  // reply, not a page.
  let next = await race(iterator.next(), deadline);
  let count = 0;
  let bytes = 0;
  let last = query.after;
  let more = next === undefined;
  let failure: ErrorDescription | undefined;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.write('{"messages":[');
  try {
    while (next !== undefined && next.done !== true) {
      const message = next.value;
      if (message.seq !== query.after && reaches(busPattern, message.topic)) {
        if (count === query.limit) {
          more = true;
          break;
        }
        const text = JSON.stringify(messageFields(message, principal.fromBus(message.topic)));
        const size = Buffer.byteLength(text);
        // The first message always goes, so a page makes progress whatever its size.
        if (count > 0 && bytes + size > limits.maxHistoryBytes) {
          more = true;
          break;
        }
        if (!res.write(count === 0 ? text : `,${text}`)) await drained(res, deadline);
        count++;
        bytes += size;
        if (message.seq !== undefined) last = message.seq;
      }
      if (deadline.aborted) {
        more = true;
        break;
      }
      next = await race(iterator.next(), deadline);
      if (next === undefined) more = true;
    }
  } catch (error) {
    // A full page is complete whatever the read-ahead met; the next page will meet it too.
    if (count === query.limit) more = true;
    else failure = describeError(error, 'INTERNAL', principal);
  } finally {
    // Ends the driver's read (and what it holds) however the page ended.
    void iterator.return?.(undefined).catch(() => {});
  }
  if (signal.aborted) return void res.destroy();
  const tail: Record<string, unknown> = { next: last, more };
  if (failure !== undefined) tail.error = failure;
  res.end(`],${JSON.stringify(tail).slice(1)}`);
}

/** The next step of the read, or undefined once `signal` aborts. */
async function race<T>(step: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  let stop!: () => void;
  const stopped = new Promise<undefined>((resolve) => (stop = () => resolve(undefined)));
  signal.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.race([step, stopped]);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function* empty(): AsyncGenerator<StoredMessage> {}
