// `omnibus pub | sub | replay | topics`: talk to a running gateway with the client SDK and
// print one JSON line per message on stdout; progress and errors go to stderr.

import { readFile } from 'node:fs/promises';
import { WebSocket } from 'ws';
import { createClient, type OmnibusClient } from '../client/client.js';
import type { WebSocketConstructor } from '../client/connection.js';
import { ConnectionError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { payloadFields } from '../protocol/payload.js';
import { UsageError } from './serve.js';

export interface RemoteOptions {
  url: string;
  token?: string;
}

/** What to do about a gateway that does not answer. */
const HINT = 'is `omnibus serve` running?';

function connect(options: RemoteOptions): OmnibusClient {
  const client = createClient({
    url: options.url,
    token: options.token,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: false,
    connectTimeoutMs: 5_000,
  });
  client.on('error', () => {});
  return client;
}

async function ready(client: OmnibusClient): Promise<void> {
  try {
    await client.ready();
  } catch (error) {
    throw error instanceof ConnectionError ? new Error(`${error.message}; ${HINT}`) : error;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `<json|@file|->`: JSON text, a file holding JSON, or stdin; with `raw`, the text itself as a string. */
async function payload(argument: string, raw: boolean): Promise<unknown> {
  const text = argument === '-' ? await readStdin() : argument.startsWith('@') ? await readFile(argument.slice(1), 'utf8') : argument;
  if (raw) return text;
  try {
    return JSON.parse(text);
  } catch {
    const source = argument === '-' ? 'stdin' : argument.startsWith('@') ? argument.slice(1) : `'${argument}'`;
    throw new UsageError(`${source} is not valid JSON; quote a string as JSON ('"text"') or pass --raw to send the text as it is`);
  }
}

/** A whole number >= 1 given to `flag`. */
export function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= 1)) throw new UsageError(`${flag} takes a whole number of at least 1, not '${value}'`);
  return number;
}

function headers(pairs: string[] = []): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--header takes name=value, not '${pair}'`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** `--delay 5s|500ms|2m|1h`: a duration in milliseconds. */
function duration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (match === null) throw new UsageError(`--delay takes a number with a unit (ms, s, m or h), e.g. 5s or 500ms, not '${value}'`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]]);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `--deliver-at <ISO 8601>`. */
function moment(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--deliver-at takes an ISO 8601 date, e.g. 2030-01-01T09:00:00Z, not '${value}'`);
  return date;
}

export async function pub(
  topic: string,
  data: string,
  options: RemoteOptions & { key?: string; id?: string; header?: string[]; ttl?: string; raw?: boolean; delay?: string; deliverAt?: string },
): Promise<void> {
  const value = await payload(data, options.raw === true);
  const ttlMs = positiveInteger(options.ttl, '--ttl');
  if (options.delay !== undefined && options.deliverAt !== undefined) throw new UsageError('give --delay or --deliver-at, not both');
  const delayMs = duration(options.delay);
  const deliverAt = moment(options.deliverAt);
  const client = connect(options);
  try {
    await ready(client);
    const result = await client.publish(topic, value, { key: options.key, id: options.id, headers: headers(options.header), ttlMs, delayMs, deliverAt });
    process.stdout.write(`${JSON.stringify({ messageId: result.id, seq: result.seq })}\n`);
  } finally {
    await client.close();
  }
}

function line(message: Message): string {
  return JSON.stringify({ messageId: message.id, topic: message.topic, ...payloadFields(message.data), headers: message.headers, key: message.key, time: message.time, seq: message.seq, attempt: message.attempt });
}

/** `--from`: 'earliest', 'latest', an ISO time, or a seq as a publish printed it (it starts with a digit). */
function parseFrom(from: string | undefined): 'earliest' | 'latest' | { seq: string } | { time: number } | undefined {
  if (from === undefined || from === 'earliest' || from === 'latest') return from;
  if (/^\d{4}-\d\d-\d\d/.test(from)) {
    const time = Date.parse(from);
    if (Number.isNaN(time)) throw new UsageError(`--from '${from}' is not a valid time`);
    return { time };
  }
  if (!/^\d[\w:-]*$/.test(from)) {
    throw new UsageError(`--from takes 'earliest', 'latest', an ISO time (2026-01-31T12:00:00Z) or a seq, not '${from}'`);
  }
  return { seq: from };
}

/** Prints messages until `count` were printed, or SIGINT. */
export async function sub(pattern: string, options: RemoteOptions & { group?: string; from?: string; count?: string }): Promise<void> {
  const count = positiveInteger(options.count, '--count') ?? Infinity;
  const from = parseFrom(options.from);
  const client = connect(options);
  let printed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  try {
    await ready(client);
    client.on('connectionLost', ({ reason }) => {
      process.exitCode = 1;
      console.error(`connection lost${reason ? `: ${reason}` : ''}`);
      finish();
    });
    await client.subscribe(pattern, (message) => {
      if (printed >= count) return;
      process.stdout.write(`${line(message)}\n`);
      printed++;
      if (printed >= count) finish();
    }, { group: options.group, from });
    console.error(`subscribed to '${pattern}'${options.group ? ` in group '${options.group}'` : ''}`);
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    await finished;
  } finally {
    await client.close();
  }
}

interface HistoryPage {
  messages: Array<Record<string, unknown>>;
  next?: string;
  more: boolean;
  error?: { message: string };
}

/** Prints retained messages page by page from `GET /v1/messages`, then exits. */
export async function replay(pattern: string, options: RemoteOptions & { from?: string; limit?: string }): Promise<void> {
  const limit = positiveInteger(options.limit, '--limit') ?? Infinity;
  const from = parseFrom(options.from) ?? 'earliest';
  let position: [string, string] = ['from', typeof from === 'string' ? from : 'seq' in from ? from.seq : `time:${from.time}`];
  let printed = 0;
  for (;;) {
    const url = gatewayUrl(options.url, '/v1/messages');
    url.searchParams.set('topic', pattern);
    url.searchParams.set(...position);
    url.searchParams.set('limit', String(Math.min(1_000, limit - printed)));
    const page = await getJson<HistoryPage>(url, options);
    for (const message of page.messages) process.stdout.write(`${JSON.stringify(message)}\n`);
    printed += page.messages.length;
    if (page.error !== undefined) throw new Error(`the gateway stopped the replay: ${page.error.message}`);
    if (!page.more || printed >= limit || page.next === undefined) return;
    position = ['after', page.next];
  }
}

export async function topics(options: RemoteOptions): Promise<void> {
  const body = await getJson<{ topics: unknown[] }>(gatewayUrl(options.url, '/v1/topics'), options);
  for (const topic of body.topics) process.stdout.write(`${JSON.stringify(topic)}\n`);
}

/** The gateway's HTTP address for `path`, from its WebSocket URL. */
function gatewayUrl(wsUrl: string, path: string): URL {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = path;
  url.search = '';
  return url;
}

async function getJson<T>(url: URL, options: RemoteOptions): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
  } catch (error) {
    const { cause } = error as { cause?: { code?: string; message?: string } };
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new Error(`cannot reach the gateway at ${url.origin} (${reason}); ${HINT}`);
  }
  const body = (await response.json()) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(`the gateway answered ${response.status}: ${body.error?.message ?? ''}`);
  return body;
}
