// Checks shared by WebSocket and HTTP publishes: topic grammar, the client's grant, size
// limits, and the tenant prefix; then one call to the bus.

import { REQUEST_HEADER } from '../core/request-protocol.js';
import type { Bus, PublishItem } from '../core/bus.js';
import { OmnibusError, PayloadTooLargeError, errorMessage } from '../core/errors.js';
import type { PublishResult } from '../core/message.js';
import { assertTopic } from '../core/topic.js';
import { wireCode, type ErrorCode } from '../protocol/errors.js';
import type { ErrorFrame, Published } from '../protocol/frames.js';
import type { Limits } from '../protocol/limits.js';
import type { Principal } from './auth.js';
import { FrameError, payloadBytes, type PublishEntry } from './frames.js';
import { isPresenceTopic, PRESENCE_TOKEN } from './presence.js';

/** Turns client entries into bus items, or throws FrameError naming the first problem. */
export function publishItems(principal: Principal, entries: PublishEntry[], limits: Limits): Array<PublishItem & { topic: string }> {
  if (entries.length === 0) throw new FrameError('BAD_FRAME', 'a batch needs at least one message');
  if (entries.length > limits.maxBatch) {
    throw new FrameError('TOO_LARGE', `a batch holds at most ${limits.maxBatch} messages, got ${entries.length}; split it`);
  }
  return entries.map((entry) => {
    try {
      assertTopic(entry.topic);
    } catch (error) {
      throw new FrameError('INVALID_TOPIC', errorMessage(error), entry.topic);
    }
    if (isPresenceTopic(entry.topic)) throw presenceRefusal(entry.topic);
    if (!principal.canPublish(entry.topic)) {
      throw new FrameError('FORBIDDEN', `not allowed to publish to '${entry.topic}'; this token may publish to: ${principal.grants.publish.join(', ') || 'nothing'}`, entry.topic);
    }
    const bytes = payloadBytes(entry.data);
    if (bytes > limits.maxMessageBytes) {
      // The Bus's error, as the driver's limit would raise it: with the bus's name for the topic.
      throw new PayloadTooLargeError(bytes, limits.maxMessageBytes, { topic: principal.toBus(entry.topic), limitOf: 'the gateway' });
    }
    return { topic: principal.toBus(entry.topic), data: entry.data, id: entry.messageId, key: entry.key, headers: busHeaders(principal, entry), ttlMs: entry.ttlMs,
      delayMs: entry.delayMs, deliverAt: entry.deliverAt };
  });
}

/**
 * A request names its inbox in `reply-to`: a topic of the client's, so it goes to the bus by
 * the bus's name for it, and only where the client may read the replies.
 */
function busHeaders(principal: Principal, entry: PublishEntry): Record<string, string> | undefined {
  const replyTo = entry.headers?.[REQUEST_HEADER.replyTo];
  if (replyTo === undefined) return entry.headers;
  try {
    assertTopic(replyTo);
  } catch (error) {
    throw new FrameError('BAD_FRAME', `the ${REQUEST_HEADER.replyTo} header must be a topic: ${errorMessage(error)}`, entry.topic);
  }
  if (!principal.canSubscribe(replyTo)) throw new FrameError('FORBIDDEN', `not allowed to subscribe to '${replyTo}', so replies sent there could not be read`, entry.topic);
  return { ...entry.headers, [REQUEST_HEADER.replyTo]: principal.toBus(replyTo) };
}

/** Presence events come from the gateway alone, so no client can fake a join. */
export function presenceRefusal(topic: string): FrameError {
  return new FrameError('FORBIDDEN', `topics with a '${PRESENCE_TOKEN}' token carry the gateway's presence events; clients cannot publish to '${topic}'`, topic);
}

/** What a publish reply says of one message. */
export function published(result: PublishResult): Published {
  return result.duplicate === true ? { messageId: result.id, seq: result.seq, duplicate: true } : { messageId: result.id, seq: result.seq };
}

export function publishToBus(bus: Bus, items: PublishItem[], batch: boolean): Promise<PublishResult[]> {
  if (batch) return bus.publishMany(items);
  const [item] = items;
  return bus.publish(item.topic, item.data, item).then((result) => [result]);
}

/** An error frame's fields, which HTTP answers carry too. */
export type ErrorDescription = Omit<ErrorFrame, 'type' | 'id'>;

/** An error frame's fields for anything a request threw; `fallback` is the code of a failure the protocol has none for. */
export function describeError(error: unknown, fallback: ErrorCode, principal?: Principal): ErrorDescription {
  if (error instanceof FrameError) return { code: error.code, message: error.message, topic: error.topic };
  if (error instanceof OmnibusError) {
    const topic = error.topic === undefined || principal === undefined ? error.topic : principal.fromBus(error.topic);
    const described: ErrorDescription = { code: wireCode(error.code) ?? fallback, message: error.message, topic, retriable: error.retriable };
    if (error instanceof PayloadTooLargeError) Object.assign(described, { bytes: error.bytes, maxBytes: error.maxBytes });
    return described;
  }
  return { code: fallback, message: errorMessage(error), retriable: true };
}
