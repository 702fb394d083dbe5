// Payload encoding for the gateway protocol without Node: bytes travel as `data_base64`,
// everything else as JSON `data`. Also UUIDv7 ids from Web Crypto.

/** Encodes bytes as base64 with the platform's `btoa` (browsers and Node >= 16). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The payload fields of a frame. */
export function payloadFields(data: unknown): { data?: unknown; data_base64?: string } {
  if (data instanceof Uint8Array) return { data_base64: toBase64(data) };
  if (data === undefined) throw new TypeError('an undefined payload has no JSON form; publish null instead');
  return { data };
}

export function payloadOf(frame: { data?: unknown; data_base64?: string }): unknown {
  return typeof frame.data_base64 === 'string' ? fromBase64(frame.data_base64) : frame.data;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
let lastTime = 0;
let counter = 0;

// Random bytes are drawn in blocks: one getRandomValues call per 256 ids, not one per id.
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

/** A UUIDv7: time-ordered, so ids from one client sort in publish order. */
export function uuidv7(): string {
  if (poolOffset === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.slice(poolOffset, poolOffset + 16);
  poolOffset += 16;
  let now = Date.now();
  if (now <= lastTime) {
    counter = (counter + 1) & 0xfff;
    if (counter === 0) lastTime++;
    now = lastTime;
  } else {
    lastTime = now;
    counter = bytes[6] & 0x07;
  }
  for (let i = 5; i >= 0; i--) {
    bytes[i] = now % 256;
    now = Math.floor(now / 256);
  }
  bytes[6] = 0x70 | ((counter >> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  let hex = '';
  for (let i = 0; i < 16; i++) hex += HEX[bytes[i]];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
