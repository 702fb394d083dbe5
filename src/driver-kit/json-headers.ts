// Nearly every message's headers are the JSON codec's content type and nothing else. Drivers
// that store headers leave that case out of each message and put it back as they read one.

import { jsonCodec } from '../core/codec.js';
import { HEADER } from '../core/message.js';

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
