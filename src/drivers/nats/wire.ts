// How a wire message travels as a NATS message: the id in `Nats-Msg-Id` (JetStream's own
// de-duplication key), Omnibus fields in `Omnibus-*` headers, user headers as they are.

import type { MsgHdrs } from '@nats-io/transport-node';
import type { WireMessage } from '../../core/driver.js';

/**
 * The header layout, readable by any NATS client:
 *
 * | header          | holds                                   |
 * | --------------- | --------------------------------------- |
 * | `Nats-Msg-Id`   | `id`                                    |
 * | `Omnibus-Time`  | `time`, milliseconds since the epoch    |
 * | `Omnibus-Key`   | `key`, when given                       |
 * | `Omnibus-Ttl`   | `ttlMs`, when given                     |
 * | anything else   | a user header (`content-type`, `traceparent`, ...) under its own name |
 *
 * Received messages without these headers (a plain client's) get the stream position as
 * id (`<stream>:<seq>`) or a fresh one, and the broker's time.
 */
export const NATS_HEADER = {
  id: 'Nats-Msg-Id',
  time: 'Omnibus-Time',
  key: 'Omnibus-Key',
  ttl: 'Omnibus-Ttl',
} as const;

const OWN = new Set(Object.values(NATS_HEADER).map((name) => name.toLowerCase()));

/** The headers constructor of the lazily loaded client. */
export type MakeHeaders = () => MsgHdrs;

/** NATS header values are single lines; a line break would end the header block. */
function oneLine(value: string): string {
  return /[\r\n]/.test(value) ? value.replace(/\r?\n|\r/g, ' ') : value;
}

export function toNatsHeaders(wire: WireMessage, makeHeaders: MakeHeaders): MsgHdrs {
  const headers = makeHeaders();
  headers.set(NATS_HEADER.id, wire.id);
  headers.set(NATS_HEADER.time, String(wire.time));
  if (wire.key !== undefined) headers.set(NATS_HEADER.key, oneLine(wire.key));
  if (wire.ttlMs !== undefined) headers.set(NATS_HEADER.ttl, String(wire.ttlMs));
  for (const name in wire.headers) headers.set(name, oneLine(wire.headers[name]));
  return headers;
}

export interface Received {
  topic: string;
  body: Uint8Array;
  headers: MsgHdrs | undefined;
  /** Used when the publisher set no `Nats-Msg-Id`. */
  fallbackId: () => string;
  /** Used when the publisher set no `Omnibus-Time`. */
  fallbackTime: () => number;
  seq?: string;
}

export function fromNats(received: Received): WireMessage {
  const { headers } = received;
  const user: Record<string, string> = {};
  let id: string | undefined;
  let time: number | undefined;
  let key: string | undefined;
  let ttlMs: number | undefined;
  if (headers !== undefined) {
    for (const name of headers.keys()) {
      const lower = name.toLowerCase();
      if (OWN.has(lower)) {
        const value = headers.get(name);
        if (lower === 'nats-msg-id') id = value;
        else if (lower === 'omnibus-time') time = Number(value);
        else if (lower === 'omnibus-key') key = value;
        else ttlMs = Number(value);
      } else if (!lower.startsWith('nats-')) {
        user[name] = headers.get(name);
      }
    }
  }
  return {
    id: id || received.fallbackId(),
    topic: received.topic,
    headers: user,
    key,
    time: time !== undefined && Number.isFinite(time) ? time : received.fallbackTime(),
    ttlMs: ttlMs !== undefined && Number.isFinite(ttlMs) ? ttlMs : undefined,
    seq: received.seq,
    body: received.body,
  };
}

/** A message whose time to live ran out before delivery is settled and skipped. */
export function expired(wire: WireMessage): boolean {
  return wire.ttlMs !== undefined && Date.now() > wire.time + wire.ttlMs;
}
