// WebSocket close codes of the protocol (docs/protocol.md, "Close codes"): the standard ones
// the gateway uses and its own in the 4000 range, which a client reads to decide whether to
// reconnect.

export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  tooBig: 1009,
  heartbeat: 4000,
  /** Authentication failed or timed out: reconnecting with the same token cannot help. */
  unauthorized: 4001,
  slowConsumer: 4008,
  tooManyConnections: 4029,
} as const;
