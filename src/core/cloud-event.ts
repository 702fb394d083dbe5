// The CloudEvents 1.0 structured form of a message: `type` is the topic, and key, seq and
// headers travel as extension attributes (lower-case letters and digits only, per the spec).

import { BYTES_CONTENT_TYPE } from './codec.js';
import { SerializationError } from './errors.js';
import { HEADER, type Headers } from './message.js';
import { fromBase64, toBase64 } from './base64.js';

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  datacontenttype?: string;
  data?: unknown;
  data_base64?: string;
  [extension: string]: unknown;
}

/** The message fields a CloudEvent carries. */
export interface CloudEventMessage {
  id: string;
  topic: string;
  data: unknown;
  headers?: Headers;
  key?: string;
  time?: number;
  seq?: string;
}

// Header names that are not valid attribute names get a fixed spelling both ways.
const HEADER_ATTRIBUTES: Record<string, string> = {
  [HEADER.correlationId]: 'correlationid',
  [HEADER.causationId]: 'causationid',
  [HEADER.originalTopic]: 'xoriginaltopic',
  [HEADER.originalId]: 'xoriginalid',
  [HEADER.error]: 'xerror',
  [HEADER.attempts]: 'xattempts',
};
const ATTRIBUTE_HEADERS = Object.fromEntries(Object.entries(HEADER_ATTRIBUTES).map(([h, a]) => [a, h]));
const RESERVED = new Set(['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'dataschema', 'subject', 'data', 'data_base64']);
const ATTRIBUTE = /^[a-z0-9]{1,20}$/;

export function toCloudEvent(message: CloudEventMessage, source = 'omnibus'): CloudEvent {
  const event: CloudEvent = { specversion: '1.0', id: message.id, source, type: message.topic };
  if (message.time !== undefined) event.time = new Date(message.time).toISOString();
  if (message.data instanceof Uint8Array) {
    event.datacontenttype = BYTES_CONTENT_TYPE;
    event.data_base64 = toBase64(message.data);
  } else {
    event.datacontenttype = 'application/json';
    event.data = message.data;
  }
  if (message.key !== undefined) event.partitionkey = message.key;
  if (message.seq !== undefined) event.sequence = message.seq;
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (name === HEADER.contentType) continue;
    const attribute = HEADER_ATTRIBUTES[name] ?? name.toLowerCase().replace(/[^a-z0-9]/g, '');
    if (ATTRIBUTE.test(attribute) && !RESERVED.has(attribute)) event[attribute] = value;
  }
  return event;
}

export function fromCloudEvent(event: unknown): CloudEventMessage {
  const e = event as Partial<CloudEvent>;
  if (typeof e !== 'object' || e === null || e.specversion !== '1.0' || typeof e.id !== 'string' || typeof e.type !== 'string') {
    throw new SerializationError('not a CloudEvents 1.0 structured event: specversion "1.0", id and type are required');
  }
  const message: CloudEventMessage = {
    id: e.id,
    topic: e.type,
    data: typeof e.data_base64 === 'string' ? fromBase64(e.data_base64) : e.data,
    headers: {},
  };
  if (typeof e.time === 'string') message.time = Date.parse(e.time);
  for (const [name, value] of Object.entries(e)) {
    if (RESERVED.has(name) || typeof value !== 'string') continue;
    if (name === 'partitionkey') message.key = value;
    else if (name === 'sequence') message.seq = value;
    else message.headers![ATTRIBUTE_HEADERS[name] ?? name] = value;
  }
  return message;
}
