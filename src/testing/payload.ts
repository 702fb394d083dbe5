// What a recorded message carried, as the application gave it, and how a failure message
// shows it: short, so a timeout that lists what it saw stays readable.

import { decodePayload, type Codec } from '../core/codec.js';
import type { WireMessage } from '../core/driver.js';
import { HEADER } from '../core/message.js';

/** The payload of `wire`: its value on drivers that carry values, else decoded; its bytes when it does not decode. */
export function payloadOf(wire: WireMessage, codec: Codec): unknown {
  if ('value' in wire) return wire.value;
  try {
    return decodePayload(codec, wire.body, wire.headers[HEADER.contentType], wire.topic);
  } catch {
    return wire.body;
  }
}

const PREVIEW_CHARS = 60;

/** One line for a message in a failure: its topic and the start of its payload. */
export function preview(topic: string, data: unknown): string {
  let text: string;
  if (data instanceof Uint8Array) text = `<${data.length} bytes>`;
  else {
    try {
      text = JSON.stringify(data) ?? String(data);
    } catch {
      text = String(data);
    }
  }
  return `${topic} ${text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text}`;
}
