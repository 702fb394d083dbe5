// How a wire message travels as an AMQP message: the topic is the routing key, id, time and
// content type ride in AMQP's own properties, user headers in its headers table, and what
// AMQP has no field for (the key, the time to the millisecond) in headers named `omnibus-*`.

import type { ConsumeMessage, Options } from 'amqplib';
import { uuidv7, type WireMessage } from '../../core/index.js';

/** Headers the driver writes for itself; a user header of one of these names is overwritten. */
export const HEADER = {
  key: 'omnibus-key',
  /** AMQP's `timestamp` counts seconds; this keeps the milliseconds. */
  time: 'omnibus-time',
  /** On a message nacked with a delay: it comes back through the default exchange, whose routing key is the queue's name. */
  topic: 'omnibus-topic',
  /** On a message nacked with a delay: the attempt it was, since it comes back as a new message. */
  attempt: 'omnibus-attempt',
  /** On a message nacked with a delay: the delay queue's, for the headers exchange that routes it there. */
  delay: 'omnibus-delay',
} as const;

/** Headers RabbitMQ adds (dead-lettering, quorum queue delivery counts), not the publisher's. */
const BROKER_HEADERS = /^x-(death|delivery-count|(first|last)-death-.*)$/;
const OWN_HEADERS = new Set<string>(Object.values(HEADER));

/** The binding key of a pattern: `*` is AMQP's too; `>` (one or more tokens) is `*.#`, since `#` alone also matches none. */
export function bindingKey(pattern: string): string {
  return pattern.endsWith('>') ? `${pattern.slice(0, -1)}*.#` : pattern;
}

/** The AMQP properties of `wire`: persistent, with its id, time, content type, TTL and headers. */
export function properties(wire: WireMessage, extra: Record<string, string | number> = {}): Options.Publish {
  const { 'content-type': contentType, ...headers } = wire.headers;
  const table: Record<string, string | number> = { ...headers, [HEADER.time]: wire.time, ...extra };
  if (wire.key !== undefined) table[HEADER.key] = wire.key;
  return {
    persistent: true,
    messageId: wire.id,
    timestamp: Math.floor(wire.time / 1000),
    contentType,
    expiration: wire.ttlMs === undefined ? undefined : String(Math.max(0, Math.ceil(wire.ttlMs))),
    headers: table,
  };
}

/** The wire message an AMQP delivery carries, and its attempt. Messages from other publishers get an id and their arrival time. */
export function fromDelivery(message: ConsumeMessage): { wire: WireMessage; attempt: number } {
  const { fields, properties: props } = message;
  const table = (props.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(table)) {
    if (value === undefined || value === null || OWN_HEADERS.has(name) || BROKER_HEADERS.test(name)) continue;
    headers[name] = typeof value === 'object' && !Buffer.isBuffer(value) ? JSON.stringify(value) : String(value);
  }
  if (props.contentType !== undefined) headers['content-type'] = props.contentType;
  const time = Number(table[HEADER.time] ?? (props.timestamp !== undefined ? Number(props.timestamp) * 1000 : Date.now()));
  const wire: WireMessage = {
    id: props.messageId ?? uuidv7(),
    topic: typeof table[HEADER.topic] === 'string' ? (table[HEADER.topic] as string) : fields.routingKey,
    headers,
    time,
    body: new Uint8Array(message.content.buffer, message.content.byteOffset, message.content.byteLength),
  };
  if (table[HEADER.key] !== undefined) wire.key = String(table[HEADER.key]);
  if (props.expiration !== undefined) wire.ttlMs = Number(props.expiration);
  // Quorum queues count redeliveries in x-delivery-count; classic queues only say whether it is one.
  const count = table['x-delivery-count'];
  const redeliveries = typeof count === 'number' ? count : fields.redelivered ? 1 : 0;
  return { wire, attempt: Number(table[HEADER.attempt] ?? 1) + redeliveries };
}
