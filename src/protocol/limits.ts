// The gateway's limits and their defaults (docs/protocol.md, "Limits and their defaults"), in
// one table: the gateway resolves its options against it, and its welcome frame announces
// the values in force, which is all a client needs to read.

/** Every limit with its value; each is documented with its default on `GatewayLimits`. */
export interface Limits {
  maxFrameBytes: number;
  maxMessageBytes: number;
  maxBatch: number;
  maxSubscriptions: number;
  publishRate: { perSecond: number; burst: number };
  maxSendBufferBytes: number;
  maxUnacked: number;
  authTimeoutMs: number;
  maxConnectionsPerClient: number;
  maxHistoryBytes: number;
  historyTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxFrameBytes: 1024 * 1024,
  maxMessageBytes: 256 * 1024,
  maxBatch: 1_000,
  maxSubscriptions: 100,
  publishRate: { perSecond: 10_000, burst: 20_000 },
  maxSendBufferBytes: 8 * 1024 * 1024,
  maxUnacked: 1_000,
  authTimeoutMs: 10_000,
  maxConnectionsPerClient: 256,
  maxHistoryBytes: 8 * 1024 * 1024,
  historyTimeoutMs: 10_000,
};

/** The limits a welcome frame announces: those a client can run into. */
export type AnnouncedLimits = Pick<
  Limits,
  'maxFrameBytes' | 'maxMessageBytes' | 'maxBatch' | 'maxSubscriptions' | 'publishRate' | 'maxUnacked' | 'maxConnectionsPerClient'
>;

/**
 * The furthest ahead a publish may be delayed: a year. Further is far likelier a unit mistake
 * (seconds for milliseconds, a year typed wrong) than a plan, and it would sit in the store.
 */
export const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
