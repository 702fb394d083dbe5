// Codecs turn payloads into bytes for wire drivers. Bytes pass through untouched, marked by
// their content type, so binary payloads survive every driver unchanged.

import { SerializationError } from './errors.js';

export interface Codec {
  /** The content type written into each message's headers. */
  contentType: string;
  encode(data: unknown): Uint8Array;
  decode(body: Uint8Array): unknown;
}

export const BYTES_CONTENT_TYPE = 'application/octet-stream';

const decoder = new TextDecoder('utf-8', { fatal: true });

interface NodeBuffer {
  from(text: string): Uint8Array;
}
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;
const encoder = new TextEncoder();
/** UTF-8 bytes of `text`: Node's Buffer where there is one, 2-4 times as fast as TextEncoder (0.17 against 0.69 us for 20 B). */
const utf8: (text: string) => Uint8Array = nodeBuffer === undefined ? (text) => encoder.encode(text) : (text) => nodeBuffer.from(text);

export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode(data) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError(`a ${typeof data} payload has no JSON form; publish null instead`);
    return utf8(text);
  },
  decode(body) {
    return JSON.parse(decoder.decode(body));
  },
};

/** Encodes a payload for the wire; returns its content type beside the bytes. */
export function encodePayload(codec: Codec, data: unknown, topic: string): { body: Uint8Array; contentType: string } {
  if (data instanceof Uint8Array) return { body: data, contentType: BYTES_CONTENT_TYPE };
  try {
    return { body: codec.encode(data), contentType: codec.contentType };
  } catch (cause) {
    throw new SerializationError(
      `cannot encode the payload for '${topic}' as ${codec.contentType}: ${(cause as Error).message}`,
      { topic, cause },
    );
  }
}

/** Decodes a received body by its content type; unknown types arrive as bytes. */
export function decodePayload(codec: Codec, body: Uint8Array, contentType: string | undefined, topic: string): unknown {
  if (contentType === BYTES_CONTENT_TYPE) return body;
  if (contentType !== undefined && contentType !== codec.contentType) return body;
  try {
    return codec.decode(body);
  } catch (cause) {
    throw new SerializationError(
      `cannot decode a message on '${topic}' as ${codec.contentType}: ${(cause as Error).message}`,
      { topic, cause },
    );
  }
}
