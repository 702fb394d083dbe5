// The live tail: each message the followed pattern delivers, newest first, with its topic,
// time, key, headers and payload. Rows are added once per animation frame and capped, so a
// busy topic cannot make the page fall behind.

import type { Message } from '../client/index.js';
import { element } from './dom.js';

const KEEP = 200;
/** Payloads are shown up to this many characters. */
const PAYLOAD_CHARS = 2_000;

export class Tail {
  private pending: Message[] = [];
  private scheduled = false;
  paused = false;

  constructor(private readonly list: HTMLOListElement) {}

  add(message: Message): void {
    if (this.paused) return;
    this.pending.push(message);
    if (this.pending.length > KEEP) this.pending.shift();
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  clear(): void {
    this.pending = [];
    this.list.replaceChildren();
  }

  private flush(): void {
    this.scheduled = false;
    const rows = this.pending.map(row).reverse();
    this.pending = [];
    this.list.prepend(...rows);
    while (this.list.childElementCount > KEEP) this.list.lastElementChild?.remove();
  }
}

function row(message: Message): HTMLLIElement {
  const item = element('li');
  item.dataset.topic = message.topic;
  item.append(element('span', message.topic, 'topic'), element('span', new Date(message.time).toISOString(), 'meta'));
  if (message.key !== undefined) item.append(element('span', `key ${message.key}`, 'meta'));
  const headers = Object.entries(message.headers);
  if (headers.length > 0) item.append(element('span', headers.map(([name, value]) => `${name}: ${value}`).join('  '), 'meta'));
  item.append(element('pre', payload(message.data)));
  return item;
}

function payload(data: unknown): string {
  let text: string;
  if (data instanceof Uint8Array) text = `(${data.length} bytes)`;
  else if (typeof data === 'string') text = data;
  else text = JSON.stringify(data) ?? String(data);
  return text.length > PAYLOAD_CHARS ? `${text.slice(0, PAYLOAD_CHARS)}… (${text.length} characters)` : text;
}
