// Nearly every message's headers are the JSON codec's content type and nothing else. Drivers
// that store headers leave that case out of each message and put it back as they read one.

import { jsonCodec } from '../core/codec.js';
import { HEADER } from '../core/message.js';
import { boundedMemo } from './memo.js';

/** Whether `headers` hold the JSON content type alone. */
export function isJsonTypeOnly(headers: Record<string, string>): boolean {
  let names = 0;
  for (const _ in headers) if (++names > 1) return false;
  return names === 1 && headers[HEADER.contentType] === jsonCodec.contentType;
}

/** The headers of a message stored without them because they were the JSON content type alone. */
export function jsonTypeHeaders(): Record<string, string> {
  return { [HEADER.contentType]: jsonCodec.contentType };
}

/** The JSON text of headers holding content type `type` alone. */
const typeOnlyJson = boundedMemo(100, (type) => JSON.stringify({ [HEADER.contentType]: type }));

/**
 * `JSON.stringify(headers)`, from a cache for headers holding a content type alone: nearly
 * every message's, and stringifying them each time cost the postgres driver about 1 µs of its
 * 7 per published message.
 */
export function headersJson(headers: Record<string, string>): string {
  let names = 0;
  for (const _ in headers) if (++names > 1) return JSON.stringify(headers);
  const type = headers[HEADER.contentType];
  return type === undefined ? JSON.stringify(headers) : typeOnlyJson(type);
}
