// The gateway's side of the frames (their types are the protocol's, src/protocol/frames.ts):
// parsing what clients send, with a precise complaint for anything malformed, and encoding
// messages for them.

import { REQUEST_HEADER } from '../core/request-protocol.js';
import type { Message, StoredMessage } from '../core/message.js';
import type { ErrorCode } from '../protocol/errors.js';
import type { AuthFrame, MessageFields, PingFrame, SettleFrame, SubscribeFrame, UnsubscribeFrame } from '../protocol/frames.js';
import { fromBase64, isBase64 } from '../core/base64.js';
import { MAX_DELAY_MS } from '../protocol/limits.js';
import { payloadFields } from '../protocol/payload.js';

export class FrameError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly topic?: string,
  ) {
    super(message);
  }
}

/** One message to publish, as parsed: its payload decoded. */
export interface PublishEntry {
  topic: string;
  data: unknown;
  messageId?: string;
  key?: string;
  headers?: Record<string, string>;
  ttlMs?: number;
  delayMs?: number;
  deliverAt?: Date;
}

/** A client frame as parsed: a publish as a list of entries either way, a reject with its reason. */
export type ParsedFrame =
  | AuthFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | { type: 'publish'; id: string; messages: PublishEntry[]; batch: boolean }
  | Extract<SettleFrame, { type: 'ack' | 'inProgress' | 'nack' }>
  | (Extract<SettleFrame, { type: 'reject' }> & { reason: string })
  | (PingFrame & { id: string })
  | { type: 'pong' };

const TYPES = new Set(['auth', 'subscribe', 'unsubscribe', 'publish', 'ack', 'nack', 'inProgress', 'reject', 'ping', 'pong']);

type Json = Record<string, unknown>;

function str(frame: Json, name: string, required: true): string;
function str(frame: Json, name: string, required?: false): string | undefined;
function str(frame: Json, name: string, required = false): string | undefined {
  const value = frame[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new FrameError('BAD_FRAME', `"${name}" must be a non-empty string`);
  if (value.length > 1024) throw new FrameError('BAD_FRAME', `"${name}" is longer than 1024 characters`);
  return value;
}

function positive(frame: Json, name: string): number | undefined {
  const value = frame[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new FrameError('BAD_FRAME', `"${name}" must be a number >= 0`);
  }
  return value;
}

function deliveries(frame: Json): number[] {
  const value = frame.deliveries;
  if (!Array.isArray(value) || value.length === 0 || value.length > 10_000 || !value.every((n) => Number.isSafeInteger(n))) {
    throw new FrameError('BAD_FRAME', '"deliveries" must be a non-empty array of delivery numbers');
  }
  return value as number[];
}

function headers(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('BAD_FRAME', '"headers" must be an object of strings');
  }
  for (const item of Object.values(value)) {
    if (typeof item !== 'string') throw new FrameError('BAD_FRAME', 'header values must be strings');
  }
  return value as Record<string, string>;
}

/** The payload: `data` (any JSON) or `data_base64` (bytes, base64). */
function payload(entry: Json): unknown {
  if (typeof entry.data_base64 === 'string') {
    if (!isBase64(entry.data_base64)) throw new FrameError('BAD_FRAME', '"data_base64" is not base64');
    return fromBase64(entry.data_base64);
  }
  if (!('data' in entry)) throw new FrameError('BAD_FRAME', 'a message needs "data" or "data_base64"');
  return entry.data;
}

/** `delayMs` or `deliverAt` (ms since epoch or ISO 8601), each at most MAX_DELAY_MS ahead. */
function due(entry: Json): Pick<PublishEntry, 'delayMs' | 'deliverAt'> {
  const { delayMs, deliverAt } = entry;
  if (delayMs !== undefined && deliverAt !== undefined) throw new FrameError('BAD_FRAME', 'give "delayMs" or "deliverAt", not both');
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
      throw new FrameError('BAD_FRAME', `"delayMs" must be a number of milliseconds from 0 to ${MAX_DELAY_MS} (a year), not ${JSON.stringify(delayMs)}`);
    }
    return { delayMs };
  }
  if (deliverAt === undefined) return {};
  // Date.parse alone would take '5' as a year: a string must look like an ISO date.
  const time = typeof deliverAt === 'number' ? deliverAt : typeof deliverAt === 'string' && /^\d{4}-\d{2}-\d{2}/.test(deliverAt) ? Date.parse(deliverAt) : NaN;
  if (!Number.isFinite(time)) throw new FrameError('BAD_FRAME', `"deliverAt" must be ms since epoch or an ISO 8601 date, not ${JSON.stringify(deliverAt)}`);
  if (time - Date.now() > MAX_DELAY_MS) throw new FrameError('BAD_FRAME', `"deliverAt" ${JSON.stringify(deliverAt)} is more than a year ahead (the limit is ${MAX_DELAY_MS} ms)`);
  return { deliverAt: new Date(time) };
}

export function publishEntry(entry: unknown): PublishEntry {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new FrameError('BAD_FRAME', 'a message must be an object');
  const e = entry as Json;
  const ttlMs = positive(e, 'ttlMs');
  if (ttlMs === 0) throw new FrameError('BAD_FRAME', '"ttlMs" must be positive');
  if (e.key !== undefined && typeof e.key !== 'string') throw new FrameError('BAD_FRAME', '"key" must be a string');
  return {
    topic: str(e, 'topic', true),
    data: payload(e),
    messageId: str(e, 'messageId'),
    key: e.key as string | undefined,
    headers: headers(e.headers),
    ttlMs,
    ...due(e),
  };
}

function from(value: unknown): SubscribeFrame['from'] {
  if (value === undefined) return undefined;
  if (value === 'earliest' || value === 'latest') return value;
  if (typeof value === 'object' && value !== null) {
    const v = value as Json;
    if (typeof v.seq === 'string' && v.seq.length > 0) return { seq: v.seq };
    if (typeof v.time === 'number' && Number.isFinite(v.time)) return { time: v.time };
  }
  throw new FrameError('BAD_FRAME', `"from" must be "earliest", "latest", { "seq": "<seq>" } or { "time": <ms> }`);
}

/** One frame of a text frame: parsed, or why not (with its id when one could be read). */
export type Parsed = { frame: ParsedFrame } | { error: FrameError; id: string | undefined };

/**
 * Parses a text frame that holds one frame or a batch envelope (a JSON array of frames,
 * docs/protocol.md); each frame of a batch is judged on its own.
 */
export function parseFrames(text: string): Parsed[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [{ error: new FrameError('BAD_FRAME', 'the frame is not JSON'), id: frameId(text) }];
  }
  if (!Array.isArray(value)) return [parseOne(value, () => frameId(text))];
  if (value.length === 0) return [{ error: new FrameError('BAD_FRAME', 'a batch of frames must not be empty'), id: undefined }];
  return value.map((item) => parseOne(item, () => readId(item)));
}

function parseOne(value: unknown, id: () => string | undefined): Parsed {
  try {
    return { frame: parseValue(value) };
  } catch (error) {
    return { error: error as FrameError, id: id() };
  }
}

function readId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as Json).id;
  return typeof id === 'string' && id.length > 0 && id.length <= 1024 ? id : undefined;
}

function parseValue(value: unknown): ParsedFrame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FrameError('BAD_FRAME', 'a frame must be a JSON object');
  const frame = value as Json;
  if (typeof frame.type !== 'string' || !TYPES.has(frame.type)) {
    throw new FrameError('UNKNOWN_TYPE', `unknown frame type ${JSON.stringify(frame.type)}; see docs/protocol.md`);
  }
  if (frame.type === 'pong') return { type: 'pong' };
  if (frame.type === 'ack' && frame.id === undefined) return { type: 'ack', deliveries: deliveries(frame) };
  const id = str(frame, 'id', true);
  switch (frame.type) {
    case 'auth':
      return { type: 'auth', id, token: str(frame, 'token', true) };
    case 'subscribe': {
      const ack = frame.ack;
      if (ack !== undefined && ack !== 'client' && ack !== 'auto') throw new FrameError('BAD_FRAME', '"ack" must be "client" or "auto"');
      const maxAttempts = positive(frame, 'maxAttempts');
      return {
        type: 'subscribe',
        id,
        subscription: str(frame, 'subscription', true),
        pattern: str(frame, 'pattern', true),
        group: str(frame, 'group'),
        from: from(frame.from),
        after: str(frame, 'after'),
        ack,
        maxAttempts: maxAttempts === undefined ? undefined : Math.max(1, maxAttempts),
        deadLetter: str(frame, 'deadLetter'),
        ackDeadlineMs: positive(frame, 'ackDeadlineMs'),
      };
    }
    case 'unsubscribe':
      return { type: 'unsubscribe', id, subscription: str(frame, 'subscription', true) };
    case 'publish': {
      if (Array.isArray(frame.messages)) return { type: 'publish', id, messages: frame.messages.map(publishEntry), batch: true };
      return { type: 'publish', id, messages: [publishEntry(frame)], batch: false };
    }
    case 'ack':
    case 'inProgress':
      return { type: frame.type, id, deliveries: deliveries(frame) };
    case 'nack':
      return { type: 'nack', id, deliveries: deliveries(frame), delayMs: positive(frame, 'delayMs') };
    case 'reject':
      return { type: 'reject', id, deliveries: deliveries(frame), reason: str(frame, 'reason') ?? 'rejected by the client' };
    default:
      return { type: 'ping', id };
  }
}

/** The id of a frame that failed to parse, so its error can be correlated. */
function frameId(text: string): string | undefined {
  const match = /"id"\s*:\s*"([^"\\]{1,1024})"/.exec(text.length > 4096 ? text.slice(0, 4096) : text);
  return match?.[1];
}

/** A message as the client sees it: bytes as `data_base64`, the topic without the tenant prefix. */
export function messageFields(message: StoredMessage & { attempt?: number }, topic: string): MessageFields {
  const { 'content-type': _contentType, ...received } = message.headers;
  const headers: Record<string, string> = received;
  // A request's inbox is a topic too: named inside the client's tenant as the topic is (the
  // prefix the topic lost), and left out when it lies outside.
  const replyTo = headers[REQUEST_HEADER.replyTo];
  if (replyTo !== undefined) {
    const prefix = message.topic.slice(0, message.topic.length - topic.length);
    if (replyTo.startsWith(prefix) && replyTo.length > prefix.length) headers[REQUEST_HEADER.replyTo] = replyTo.slice(prefix.length);
    else delete headers[REQUEST_HEADER.replyTo];
  }
  const fields: MessageFields = { messageId: message.id, topic, headers, time: message.time };
  if (message.attempt !== undefined) fields.attempt = message.attempt;
  Object.assign(fields, payloadFields(message.data));
  if (message.key !== undefined) fields.key = message.key;
  if (message.seq !== undefined) fields.seq = message.seq;
  if (message.ttlMs !== undefined) fields.ttlMs = message.ttlMs;
  return fields;
}

/** The size a payload counts against `maxMessageBytes`. */
export function payloadBytes(data: unknown): number {
  if (data instanceof Uint8Array) return data.byteLength;
  const text = JSON.stringify(data);
  return text === undefined ? 0 : Buffer.byteLength(text);
}

// A message fanned out to many subscriptions is serialized once: each subscription gets its
// own ReceivedMessage, but the same bus topic and seq (a stored message), with the same id,
// attempt and time, mean the same fields, as does the same client-side name for the topic.
// Without a seq only the same payload object says so: ids are the publisher's to repeat.
// The bus topic keeps tenants apart, whose topics may share the name their clients see.
const cached = { busTopic: '', id: '', seq: undefined as string | undefined, data: undefined as unknown, attempt: 0, time: 0, topic: '', fields: '' };

function isCached(message: Message, topic: string): boolean {
  return (
    message.topic === cached.busTopic &&
    message.id === cached.id &&
    message.seq === cached.seq &&
    (message.seq !== undefined || message.data === cached.data) &&
    message.attempt === cached.attempt &&
    message.time === cached.time &&
    topic === cached.topic
  );
}

/** The start of each `message` frame of one subscription, up to its delivery number. */
export const messageFramePrefix = (subscription: string) => `{"type":"message","subscription":${JSON.stringify(subscription)},"delivery":`;

/** A `message` frame as JSON text; `prefix` is the subscription's `messageFramePrefix`. */
export function messageFrame(prefix: string, delivery: number, message: Message, topic: string): string {
  if (!isCached(message, topic)) {
    cached.fields = JSON.stringify(messageFields(message, topic)).slice(1);
    Object.assign(cached, { busTopic: message.topic, id: message.id, seq: message.seq, data: message.data, attempt: message.attempt, time: message.time, topic });
  }
  return `${prefix}${delivery},${cached.fields}`;
}
