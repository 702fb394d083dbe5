// How a wire message travels as a Kafka record: the key is the record key (so the default
// partitioner keeps one key on one partition, in order), the time is the record timestamp,
// the payload is the value, and the id and TTL ride in `omnibus-*` headers beside the
// user's own, all UTF-8, so any Kafka client reads them.

import { jsonCodec } from '../../core/codec.js';
import type { WireMessage } from '../../core/driver.js';
import { HEADER } from '../../core/message.js';
import { boundedMemo } from '../../driver-kit/memo.js';

/**
 * The header layout:
 *
 * | header         | holds                                                    |
 * | -------------- | -------------------------------------------------------- |
 * | `omnibus-id`   | `id`                                                     |
 * | `omnibus-ttl`  | `ttlMs`, when given                                      |
 * | `content-type` | the payload's type, unless `application/json`            |
 * | anything else  | a user header (`traceparent`, ...) as is                 |
 *
 * JSON, nearly every message, carries no `content-type`: the client encodes each header on
 * its own, and at 20 B payloads a second header cost about a fifth of the publish rate. A
 * record with `omnibus-id` and no `content-type` is read as `application/json`; records
 * written before this layout carry it and read as they did. A record without `omnibus-id` (a
 * plain client's) gets `<topic>:<partition>:<offset>` as id, and its headers as they are.
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

/** A message on its way out: the record, and about how many bytes it adds to a request. */
export interface Outgoing {
  wire: WireMessage;
  record: OutgoingRecord;
  size: number;
}

/** What a fetched record carries, as its batch decodes it. */
export interface IncomingRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer | null, Buffer | null]>;
}

/** What a record adds to a batch beyond its key, value and headers (varints, deltas), about. */
const RECORD_OVERHEAD = 32;

const ID_NAME = Buffer.from(KAFKA_HEADER.id);
const TTL_NAME = Buffer.from(KAFKA_HEADER.ttl);
/** The content type left out of records: the JSON codec's, which core's default codec writes. */
const IMPLIED_TYPE = jsonCodec.contentType;

// Header names, and content types, repeat on nearly every record: encoded once.
const repeated = boundedMemo(1_000, (text) => Buffer.from(text));

/** The record for `wire`, on `partition`. */
export function toRecord(wire: WireMessage, partition: number): Outgoing {
  const headers = new Map<Buffer, Buffer>();
  const id = Buffer.from(wire.id);
  headers.set(ID_NAME, id);
  let size = RECORD_OVERHEAD + ID_NAME.byteLength + id.byteLength;
  if (wire.ttlMs !== undefined) {
    const ttl = Buffer.from(String(wire.ttlMs));
    headers.set(TTL_NAME, ttl);
    size += TTL_NAME.byteLength + ttl.byteLength;
  }
  for (const name in wire.headers) {
    const text = wire.headers[name];
    const type = name === HEADER.contentType;
    if (type && text === IMPLIED_TYPE) continue;
    const value = type ? repeated(text) : Buffer.from(text);
    const nameBytes = repeated(name);
    headers.set(nameBytes, value);
    size += nameBytes.byteLength + value.byteLength + 4;
  }
  const key = wire.key === undefined ? undefined : Buffer.from(wire.key);
  size += wire.body.byteLength + (key?.byteLength ?? 0);
  const record = {
    topic: wire.topic,
    partition,
    key,
    // The client only appends the value to the request's list of chunks, which Buffer.concat
    // joins, so any Uint8Array will do; wrapping each one as a Buffer cost a tenth of a publish.
    value: wire.body as Buffer,
    timestamp: BigInt(wire.time),
    headers,
  };
  return { wire, record, size };
}

/** The message `record` holds, at `offset` of `topic`'s `partition`, stored at `timestamp`. */
export function fromRecord(topic: string, partition: number, offset: bigint, timestamp: bigint, record: IncomingRecord): WireMessage {
  const headers: Record<string, string> = {};
  let id: string | undefined;
  let ttlMs: number | undefined;
  for (const [name, value] of record.headers) {
    if (name === null) continue;
    const text = value?.toString() ?? '';
    // The id header is on every record: compared as bytes, its name never becomes a string.
    if (name.equals(ID_NAME)) id = text;
    else {
      const key = name.toString();
      if (key === KAFKA_HEADER.ttl) ttlMs = Number(text);
      else headers[key] = text;
    }
  }
  if (id !== undefined && headers[HEADER.contentType] === undefined) headers[HEADER.contentType] = IMPLIED_TYPE;
  const seq = formatSeq(topic, partition, offset);
  const message: WireMessage = {
    id: id ?? seq,
    topic,
    headers,
    time: Number(timestamp),
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
