// One message per line of its topic's file: the wire message as JSON, its body in base64.

import type { WireMessage } from '../../src/driver-kit/index.js'; // in your project: 'omnibus/driver-kit'

export function toLine(wire: WireMessage): string {
  const { id, topic, headers, key, time, ttlMs } = wire;
  return `${JSON.stringify({ id, topic, headers, key, time, ttlMs, body: Buffer.from(wire.body).toString('base64') })}\n`;
}

export function fromLine(line: string): WireMessage {
  const { body, ...fields } = JSON.parse(line) as Omit<WireMessage, 'body'> & { body: string };
  return { ...fields, body: new Uint8Array(Buffer.from(body, 'base64')) };
}

/** A topic's file: topics are letters, digits, `_`, `-`, `:` and dots, all safe in a file name. */
export const fileOf = (topic: string): string => `${topic}.jsonl`;
export const topicOf = (file: string): string | undefined => (file.endsWith('.jsonl') ? file.slice(0, -'.jsonl'.length) : undefined);
