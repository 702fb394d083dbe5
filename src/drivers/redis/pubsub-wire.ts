// How pub/sub mode carries a message on a channel. Redis PUBLISH has nothing but a payload,
// so an Omnibus message travels as a frame: a NUL byte, its metadata as JSON (which cannot
// hold a raw NUL), a NUL byte, then the body untouched. Anything else on a channel (a plain
// `redis-cli PUBLISH`) is a bare body: it arrives with a fresh id, the arrival time and no
// headers, so a foreign publisher's messages are never dropped.

import { uuidv7 } from '../../core/uuid.js';
import type { WireMessage } from '../../core/index.js';

const NUL = 0;

interface Metadata {
  id: string;
  time: number;
  key?: string;
  ttlMs?: number;
  headers?: Record<string, string>;
}

export function encodeFrame(wire: WireMessage): Buffer {
  const metadata: Metadata = { id: wire.id, time: wire.time };
  if (wire.key !== undefined) metadata.key = wire.key;
  if (wire.ttlMs !== undefined) metadata.ttlMs = wire.ttlMs;
  for (const _ in wire.headers) {
    metadata.headers = wire.headers;
    break;
  }
  const head = Buffer.from(`\u0000${JSON.stringify(metadata)}\u0000`);
  return Buffer.concat([head, wire.body]);
}

/** The message a channel carried: a frame's, or a bare body's. */
export function decodeFrame(topic: string, payload: Buffer): WireMessage {
  const metadata = payload[0] === NUL ? readMetadata(payload) : undefined;
  if (metadata === undefined) return { id: uuidv7(), topic, time: Date.now(), headers: {}, body: payload };
  const { id, time, key, ttlMs, headers = {} } = metadata.fields;
  return { id, topic, time, key, ttlMs, headers, body: payload.subarray(metadata.end + 1) };
}

/** The frame's metadata and where it ends, or undefined when the payload is not a frame. */
function readMetadata(payload: Buffer): { fields: Metadata; end: number } | undefined {
  const end = payload.indexOf(NUL, 1);
  if (end < 0) return undefined;
  try {
    const fields = JSON.parse(payload.toString('utf8', 1, end)) as Metadata;
    return typeof fields?.id === 'string' && typeof fields.time === 'number' ? { fields, end } : undefined;
  } catch {
    return undefined;
  }
}
