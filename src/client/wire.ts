// What the client writes into a publish frame: the payload coded for the wire, and an id for
// every message, the de-duplication key that makes resending it after a reconnect safe.

import { ConfigurationError } from '../core/errors.js';
import { uuidv7 } from '../core/uuid.js';
import type { PublishResult } from '../core/message.js';
import type { Published, PublishFields } from '../protocol/frames.js';
import { payloadFields } from '../protocol/payload.js';
import type { ClientPublishItem } from './client.js';

export function publishFields(item: ClientPublishItem): PublishFields {
  if (item.data === undefined) throw new TypeError('an undefined payload has no JSON form; publish null instead');
  const fields: PublishFields = { topic: item.topic, messageId: item.id ?? uuidv7(), ...payloadFields(item.data) };
  if (item.key !== undefined) fields.key = item.key;
  if (item.headers !== undefined) fields.headers = item.headers;
  if (item.ttlMs !== undefined) fields.ttlMs = item.ttlMs;
  // The gateway judges the numbers; only the Date is the client's to check, as it travels as ms.
  if (item.delayMs !== undefined) fields.delayMs = item.delayMs;
  if (item.deliverAt !== undefined) {
    if (!(item.deliverAt instanceof Date) || Number.isNaN(item.deliverAt.getTime())) {
      throw new ConfigurationError(`publish to '${item.topic}': deliverAt must be a valid Date`, { topic: item.topic });
    }
    fields.deliverAt = item.deliverAt.getTime();
  }
  return fields;
}

/** A publish reply's account of one message, as `bus.publish` gives it. */
export function fromPublished(reply: Published): PublishResult {
  return reply.duplicate === true ? { id: reply.messageId, seq: reply.seq, duplicate: true } : { id: reply.messageId, seq: reply.seq };
}
