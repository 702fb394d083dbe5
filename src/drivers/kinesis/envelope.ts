// How a wire message travels in a Kinesis record's Data blob. Kinesis carries only bytes and a
// partition key, so the topic, id, headers, key and times ride in a small JSON header ahead
// of the payload, which stays untouched bytes.

import type { WireMessage } from '../../core/driver.js';

/**
 * The Data blob layout:
 *
 * | bytes      | holds                                                                   |
 * | ---------- | ----------------------------------------------------------------------- |
 * | 0          | the layout version, 1                                                   |
 * | 1..4       | the header's length in bytes, n (unsigned 32-bit, big-endian)           |
 * | 5..5+n     | the header, UTF-8 JSON: `{ id, topic, time, headers, key?, ttl? }`      |
 * | 5+n..      | the payload, as published                                               |
 *
 * A record that does not start this way (another producer's) is delivered with its Data as the
 * payload (bytes, `application/octet-stream`), the stream's name less the prefix as topic and
 * its seq as id.
 */
export const ENVELOPE_VERSION = 1;

/** Kinesis's own limit on a record: Data plus partition key. */
export const KINESIS_RECORD_LIMIT = 1024 * 1024;
/** What the envelope and partition key may take of a record: the payload gets the rest. */
export const ENVELOPE_HEADROOM = 16 * 1024;

interface Header {
  id: string;
  topic: string;
  time: number;
  headers: Record<string, string>;
  key?: string;
  ttl?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toData(wire: WireMessage): Uint8Array {
  const header: Header = { id: wire.id, topic: wire.topic, time: wire.time, headers: wire.headers };
  if (wire.key !== undefined) header.key = wire.key;
  if (wire.ttlMs !== undefined) header.ttl = wire.ttlMs;
  const json = encoder.encode(JSON.stringify(header));
  const data = new Uint8Array(5 + json.byteLength + wire.body.byteLength);
  data[0] = ENVELOPE_VERSION;
  new DataView(data.buffer).setUint32(1, json.byteLength);
  data.set(json, 5);
  data.set(wire.body, 5 + json.byteLength);
  return data;
}

/** The message in `data`, or undefined when it is not an envelope of ours. */
export function fromData(data: Uint8Array, seq: string): WireMessage | undefined {
  if (data.byteLength < 5 || data[0] !== ENVELOPE_VERSION) return undefined;
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  if (5 + length > data.byteLength) return undefined;
  let header: Header;
  try {
    header = JSON.parse(decoder.decode(data.subarray(5, 5 + length))) as Header;
  } catch {
    return undefined;
  }
  if (typeof header?.id !== 'string' || typeof header.topic !== 'string') return undefined;
  const message: WireMessage = { id: header.id, topic: header.topic, time: Number(header.time), headers: header.headers ?? {}, seq, body: data.subarray(5 + length) };
  if (header.key !== undefined) message.key = header.key;
  if (header.ttl !== undefined) message.ttlMs = header.ttl;
  return message;
}
