// A message's payload on the wire (docs/protocol.md, "Payloads"): bytes travel as
// `data_base64` (standard base64), anything else as JSON `data`.

import { fromBase64, toBase64 } from '../core/base64.js';

/** One or the other, never both. */
export interface Payload {
  data?: unknown;
  data_base64?: string;
}

/** The payload fields for `data`. */
export function payloadFields(data: unknown): Payload {
  return data instanceof Uint8Array ? { data_base64: toBase64(data) } : { data };
}

/** The payload a frame carries. */
export function payloadOf(frame: Payload): unknown {
  return typeof frame.data_base64 === 'string' ? fromBase64(frame.data_base64) : frame.data;
}
