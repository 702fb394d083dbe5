// The frames of the WebSocket protocol (docs/protocol.md), as both sides write and read them:
// what a client sends, and what the gateway sends back. Each is one JSON object in a text
// frame; a JSON array of them is a batch envelope.

import type { Capabilities } from '../core/driver.js';
import type { ErrorCode } from './errors.js';
import type { AnnouncedLimits } from './limits.js';
import type { Payload } from './payload.js';

export const PROTOCOL_VERSION = 1;

// Client -> server. Every frame but `pong` is a request: its `id` comes back on its answer.

export interface AuthFrame {
  type: 'auth';
  id: string;
  token: string;
}

export interface SubscribeFrame {
  type: 'subscribe';
  id: string;
  /** The client's name for the subscription, unique on the connection. */
  subscription: string;
  pattern: string;
  group?: string;
  from?: 'earliest' | 'latest' | { seq: string } | { time: number };
  /** Resume: everything after this seq, without it; replaces `from`. */
  after?: string;
  ack?: 'client' | 'auto';
  maxAttempts?: number;
  deadLetter?: string;
  ackDeadlineMs?: number;
}

export interface UnsubscribeFrame {
  type: 'unsubscribe';
  id: string;
  subscription: string;
}

/** One message to publish. */
export interface PublishFields extends Payload {
  topic: string;
  /** The de-duplication key. */
  messageId?: string;
  key?: string;
  headers?: Record<string, string>;
  ttlMs?: number;
  /** Hold the message this long before delivery (at most MAX_DELAY_MS); not with `deliverAt`. */
  delayMs?: number;
  /** Deliver no earlier than this: ms since epoch or an ISO 8601 string (at most MAX_DELAY_MS ahead). */
  deliverAt?: number | string;
}

export interface PublishFrame extends PublishFields {
  type: 'publish';
  id: string;
}

export interface PublishBatchFrame {
  type: 'publish';
  id: string;
  messages: PublishFields[];
}

/**
 * Settles deliveries: `ack`, `inProgress` (extend the deadline), `nack` (redeliver), `reject`
 * (dead-letter now). An `ack` without an `id` gets no reply: a client that does not wait to
 * learn its ack landed (a lost one only means a redelivery) spares both sides the answer.
 */
export type SettleFrame =
  | { type: 'ack'; id?: string; deliveries: number[] }
  | { type: 'inProgress'; id: string; deliveries: number[] }
  | { type: 'nack'; id: string; deliveries: number[]; delayMs?: number }
  | { type: 'reject'; id: string; deliveries: number[]; reason?: string };

/** A heartbeat. The client's carries an `id` and is answered by a `pong` with it; the server's has none. */
export interface PingFrame {
  type: 'ping';
  id?: string;
}

export interface PongFrame {
  type: 'pong';
  id?: string;
}

export type ClientFrame =
  | AuthFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | PublishFrame
  | PublishBatchFrame
  | SettleFrame
  | (PingFrame & { id: string })
  | PongFrame;

// Server -> client.

/** What the gateway's bus can do: what all of its drivers can, with the gateway's own payload limit. */
export interface GatewayCapabilities extends Capabilities {
  /** The names of the bus's drivers. */
  drivers: string[];
}

/** The first frame of every connection. */
export interface WelcomeFrame {
  type: 'welcome';
  version: number;
  heartbeatMs: number;
  authRequired: boolean;
  authenticated: boolean;
  /** The gateway's id for this connection, as presence names it. */
  client: string;
  /** Batch envelopes from the client are understood. */
  batches: boolean;
  /** An `ack` without an `id` is settled without a reply (older gateways need the `id`). */
  acksWithoutId?: boolean;
  capabilities: GatewayCapabilities;
  limits: AnnouncedLimits;
}

/** A request succeeded; the request's answer, below, rides along. */
export interface ReplyFrame {
  type: 'reply';
  id: string;
}

export interface AuthReply extends ReplyFrame {
  /** The patterns granted. */
  publish: string[];
  subscribe: string[];
  tenant?: string;
}

export interface SubscribeReply extends ReplyFrame {
  subscription: string;
  /** False when a resume cannot deliver everything missed. */
  recovered: boolean;
  /** With `recovered: false` after retention: the first seq still held. */
  earliest?: string;
  /** The server's clock when it subscribed. */
  time: number;
}

export interface UnsubscribeReply extends ReplyFrame {
  subscription: string;
}

export interface Published {
  messageId: string;
  seq?: string;
  /** The id was stored within the driver's dedupe window, so nothing was stored: `seq` is the stored message's. */
  duplicate?: true;
}

export interface PublishReply extends ReplyFrame, Published {}

export interface PublishBatchReply extends ReplyFrame {
  results: Published[];
}

/** A request failed (docs/protocol.md, "Error codes"). */
export interface ErrorFrame {
  type: 'error';
  /** Absent when the failed frame had none that could be read. */
  id?: string;
  code: ErrorCode;
  message: string;
  topic?: string;
  retriable?: boolean;
  /** With `PAYLOAD_TOO_LARGE`: the payload's size and the limit it broke. */
  bytes?: number;
  maxBytes?: number;
}

/** A message as the gateway hands it out, in a `message` frame and over HTTP. */
export interface MessageFields extends Payload {
  messageId: string;
  /** The topic as the client names it (without a tenant prefix). */
  topic: string;
  headers: Record<string, string>;
  key?: string;
  time: number;
  seq?: string;
  ttlMs?: number;
  /** Absent over HTTP, which reads history. */
  attempt?: number;
}

export interface MessageFrame extends MessageFields {
  type: 'message';
  subscription: string;
  /** Per connection; what settle frames name. */
  delivery: number;
  attempt: number;
}

export interface ClosingFrame {
  type: 'closing';
  reason: string;
}

export type ServerFrame =
  | WelcomeFrame
  | ReplyFrame
  | AuthReply
  | SubscribeReply
  | UnsubscribeReply
  | PublishReply
  | PublishBatchReply
  | ErrorFrame
  | MessageFrame
  | PingFrame
  | PongFrame
  | ClosingFrame;
