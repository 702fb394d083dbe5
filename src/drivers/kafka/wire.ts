// How a wire message travels as a Kafka record: the key is the record key (so the default
// partitioner keeps one key on one partition, in order), the time is the record timestamp,
// the payload is the value, and the id and TTL ride in `omnibus-*` headers beside the
// user's own, all UTF-8, so any Kafka client reads them.

import type { WireMessage } from '../../core/driver.js';

/**
 * The header layout:
 *
 * | header        | holds                                                    |
 * | ------------- | -------------------------------------------------------- |
 * | `omnibus-id`  | `id`                                                     |
 * | `omnibus-ttl` | `ttlMs`, when given                                      |
 * | anything else | a user header (`content-type`, `traceparent`, ...) as is |
 *
 * A record without `omnibus-id` (a plain client's) gets `<topic>:<partition>:<offset>` as id.
 */
export const KAFKA_HEADER = { id: 'omnibus-id', ttl: 'omnibus-ttl' } as const;

/** A record as @platformatic/kafka produces it with its default (Buffer) serialisers. */
export interface OutgoingRecord {
  topic: string;
  partition: number;
  key?: Buffer;
  value: Buffer;
  timestamp: bigint;
  headers: Map<Buffer, Buffer>;
}

/** A fetched record, decoded from its batch. */
export interface IncomingRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer | null, Buffer | null]>;
}

export function toRecord(wire: WireMessage, partition: number): OutgoingRecord {
  const headers = new Map<Buffer, Buffer>();
  headers.set(Buffer.from(KAFKA_HEADER.id), Buffer.from(wire.id));
  if (wire.ttlMs !== undefined) headers.set(Buffer.from(KAFKA_HEADER.ttl), Buffer.from(String(wire.ttlMs)));
  for (const name in wire.headers) headers.set(Buffer.from(name), Buffer.from(wire.headers[name]));
  const body = wire.body;
  return {
    topic: wire.topic,
    partition,
    key: wire.key === undefined ? undefined : Buffer.from(wire.key),
    value: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    timestamp: BigInt(wire.time),
    headers,
  };
}

/** About what a record adds to a batch beyond its key, value and headers (varints, deltas). */
export const RECORD_OVERHEAD = 32;

export function recordSize(record: OutgoingRecord): number {
  let size = RECORD_OVERHEAD + record.value.byteLength + (record.key?.byteLength ?? 0);
  for (const [name, value] of record.headers) size += name.byteLength + value.byteLength + 4;
  return size;
}

export function fromRecord(record: IncomingRecord): WireMessage {
  const headers: Record<string, string> = {};
  let id: string | undefined;
  let ttlMs: number | undefined;
  for (const [name, value] of record.headers) {
    if (name === null) continue;
    const key = name.toString();
    const text = value?.toString() ?? '';
    if (key === KAFKA_HEADER.id) id = text;
    else if (key === KAFKA_HEADER.ttl) ttlMs = Number(text);
    else headers[key] = text;
  }
  const seq = formatSeq(record.topic, record.partition, record.offset);
  const message: WireMessage = {
    id: id ?? seq,
    topic: record.topic,
    headers,
    time: Number(record.timestamp),
    seq,
    body: record.value ?? new Uint8Array(0),
  };
  if (record.key !== null) message.key = record.key.toString();
  if (ttlMs !== undefined && Number.isFinite(ttlMs)) message.ttlMs = ttlMs;
  return message;
}

/**
 * A message's position: `<topic>:<partition>:<offset>`. The topic is in it (Kafka topic names
 * have no ':') so a pattern's subscription or a history page can resume from it.
 */
export function formatSeq(topic: string, partition: number, offset: bigint): string {
  return `${topic}:${partition}:${offset}`;
}
