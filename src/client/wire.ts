// What the client writes into a publish frame: the payload coded for the wire, and an id for
// every message, the de-duplication key that makes resending it after a reconnect safe.

import { uuidv7 } from '../core/uuid.js';
import type { PublishFields } from '../protocol/frames.js';
import { payloadFields } from '../protocol/payload.js';
import type { ClientPublishItem } from './client.js';

export function publishFields(item: ClientPublishItem): PublishFields {
  if (item.data === undefined) throw new TypeError('an undefined payload has no JSON form; publish null instead');
  const fields: PublishFields = { topic: item.topic, messageId: item.id ?? uuidv7(), ...payloadFields(item.data) };
  if (item.key !== undefined) fields.key = item.key;
  if (item.headers !== undefined) fields.headers = item.headers;
  if (item.ttlMs !== undefined) fields.ttlMs = item.ttlMs;
  return fields;
}
