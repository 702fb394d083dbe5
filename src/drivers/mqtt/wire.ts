// How a wire message travels as an MQTT 5 PUBLISH: the payload as its bytes, the content type
// in the contentType property, the time to live as the message expiry, and the id, key, time
// and headers as user properties, so any MQTT 5 client can read them.

import type { IClientPublishOptions, IPublishPacket } from 'mqtt';
import type { WireMessage } from '../../core/driver.js';
import { HEADER } from '../../core/message.js';
import { uuidv7 } from '../../core/uuid.js';

/**
 * The user properties the driver owns; every other user property is a header under its own
 * name. A message without them (a plain client's, `mosquitto_pub`'s) gets a fresh UUIDv7 as
 * id and the time it arrived.
 */
export const MQTT_PROPERTY = {
  id: 'omnibus-id',
  time: 'omnibus-time',
  key: 'omnibus-key',
  ttl: 'omnibus-ttl',
} as const;

type UserProperties = Record<string, string | string[]>;

export function toPublishOptions(wire: WireMessage): IClientPublishOptions {
  const userProperties: UserProperties = {};
  let contentType: string | undefined;
  for (const name in wire.headers) {
    if (name === HEADER.contentType) contentType = wire.headers[name];
    else userProperties[name] = wire.headers[name];
  }
  userProperties[MQTT_PROPERTY.id] = wire.id;
  userProperties[MQTT_PROPERTY.time] = String(wire.time);
  if (wire.key !== undefined) userProperties[MQTT_PROPERTY.key] = wire.key;
  const properties: NonNullable<IClientPublishOptions['properties']> = { userProperties };
  if (contentType !== undefined) properties.contentType = contentType;
  if (wire.ttlMs !== undefined) {
    userProperties[MQTT_PROPERTY.ttl] = String(wire.ttlMs);
    // The broker drops it once expired too; whole seconds, rounded up, so never early.
    properties.messageExpiryInterval = Math.max(1, Math.ceil(wire.ttlMs / 1000));
  }
  return { qos: 1, properties };
}

export function fromPacket(topic: string, packet: IPublishPacket): WireMessage {
  const properties = packet.properties;
  const headers: Record<string, string> = {};
  let id: string | undefined;
  let time: number | undefined;
  let key: string | undefined;
  let ttlMs: number | undefined;
  const user = properties?.userProperties as UserProperties | undefined;
  for (const name in user) {
    const raw = user[name];
    // A name given twice arrives as a list; a header holds one value, the last.
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (name === MQTT_PROPERTY.id) id = value;
    else if (name === MQTT_PROPERTY.time) time = Number(value);
    else if (name === MQTT_PROPERTY.key) key = value;
    else if (name === MQTT_PROPERTY.ttl) ttlMs = Number(value);
    else headers[name] = value;
  }
  if (properties?.contentType !== undefined) headers[HEADER.contentType] = properties.contentType;
  return {
    id: id || uuidv7(),
    topic,
    headers,
    key,
    time: time !== undefined && Number.isFinite(time) ? time : Date.now(),
    ttlMs: ttlMs !== undefined && Number.isFinite(ttlMs) ? ttlMs : undefined,
    body: packet.payload as Uint8Array,
  };
}
