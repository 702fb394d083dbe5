// The gateway's options and limits, each with its default in one place.

import type { Bus } from '../core/bus.js';
import type { Logger } from '../core/logger.js';
import { DEFAULT_LIMITS, type Limits } from '../protocol/limits.js';
import type { Catalog } from '../catalog/index.js';
import type { AuthOptions } from './auth.js';

/**
 * Limits that keep one client from exhausting the server; their values are the protocol's
 * table (src/protocol/limits.ts).
 *
 * - `maxFrameBytes`: largest WebSocket frame or HTTP body accepted; a larger frame closes the
 *   connection with code 1009. Default 1 MiB.
 * - `maxMessageBytes`: largest message payload (JSON text or bytes). Default 256 KiB.
 * - `maxBatch`: messages in one batch publish. Default 1,000.
 * - `maxSubscriptions`: subscriptions one connection may hold. Default 100.
 * - `publishRate`: messages per second one connection may publish, with a burst allowance;
 *   beyond it a publish gets a `RATE_LIMITED` error frame. Over HTTP it applies per token, or
 *   per address without one, with status 429. Default 10,000/s, burst 20,000.
 * - `maxSendBufferBytes`: bytes queued towards one client before it is disconnected as a slow
 *   consumer (close code 4008). Default 8 MiB.
 * - `maxUnacked`: messages delivered to one subscription and not yet acked; further deliveries
 *   wait for acks (flow control, like JetStream's max ack pending). Default 1,000.
 * - `authTimeoutMs`: how long a connection may stay unauthenticated when auth is required.
 *   Default 10 s.
 * - `maxConnectionsPerClient`: WebSocket connections and SSE streams open at once for one
 *   client: one token's principal, or one address for connections without a token (behind a
 *   proxy, anonymous clients share its address). Beyond it an upgrade or stream gets HTTP 429
 *   `TOO_MANY_CONNECTIONS`. Default 256.
 * - `maxHistoryBytes`: bytes of messages in one history page (`GET /v1/messages`); a page
 *   that would grow past it ends early with `more: true`. Default 8 MiB.
 * - `historyTimeoutMs`: how long one history page may take; at the deadline it ends with
 *   what it has and `more: true`. Default 10 s.
 */
export interface GatewayLimits {
  maxFrameBytes?: number;
  maxMessageBytes?: number;
  maxBatch?: number;
  maxSubscriptions?: number;
  publishRate?: { perSecond: number; burst?: number };
  maxSendBufferBytes?: number;
  maxUnacked?: number;
  authTimeoutMs?: number;
  maxConnectionsPerClient?: number;
  maxHistoryBytes?: number;
  historyTimeoutMs?: number;
}

export interface GatewayOptions {
  /** The bus the gateway puts on the network. Required. */
  bus: Bus;
  /** Bearer tokens: static API keys and JWT. Default: none, everyone may publish and subscribe to anything. */
  auth?: AuthOptions;
  limits?: GatewayLimits;
  /** Interval of heartbeats; a peer silent for two intervals is dropped. Default 15 s. */
  heartbeatMs?: number;
  /** WebSocket path. Default '/v1/ws'. */
  path?: string;
  /**
   * Where the gateway logs refusals, slow-consumer cut-offs and shutdown steps; a pino logger
   * fits. Default: none, the gateway is silent.
   */
  logger?: Logger;
  /**
   * Origins of web pages that may open WebSockets and make requests, e.g.
   * `['https://app.example.com']`, or `['*']` for any. Requests without an `Origin` header
   * (not from a browser) are always served. Default: the gateway's own origin and loopback
   * origins (`http://localhost:*`, `http://127.0.0.1:*`).
   */
  allowedOrigins?: string[];
  /**
   * Publishes `presence.join`/`presence.leave` events through the bus on `_presence.<pattern>`
   * (docs/protocol.md, "Presence"): one message per client joining or leaving a pattern, which a
   * durable driver stores and the bus's metrics count. `GET /v1/presence` answers either way.
   * Default true.
   */
  presenceEvents?: boolean;
  /** Lets `listen()` bind a non-loopback address without auth configured. Default false. */
  insecure?: boolean;
  /**
   * Serve the dashboard at `/` (and its script and styles under `/dashboard/`). Default true;
   * set false when the gateway is mounted into an app whose own `/` it must leave alone.
   */
  dashboard?: boolean;
  /**
   * The application's event catalogue (defineCatalog), served as AsyncAPI 3.0 at
   * `GET /asyncapi.json` to any client the gateway admits, with this gateway as its server, and
   * listed on the dashboard. Default: none (the route answers 404).
   */
  asyncapi?: { catalog: Catalog; title?: string; version?: string };
}

export function resolveLimits(limits: GatewayLimits = {}): Limits {
  const given = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
  const perSecond = limits.publishRate?.perSecond ?? DEFAULT_LIMITS.publishRate.perSecond;
  // A rate given without a burst gets two seconds' worth, as the default does.
  return { ...DEFAULT_LIMITS, ...given, publishRate: { perSecond, burst: limits.publishRate?.burst ?? perSecond * 2 } };
}
