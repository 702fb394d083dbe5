// 10,000 WebSocket clients on one gateway process, each subscribed to one topic and receiving
// what one publisher sends there, beside a bare ws relay holding as many connections and
// forwarding the same messages. Reports the server's memory per connection (RSS and heap,
// after a full collection) and the publish-to-delivery latency over every client. The server
// runs in its own process; the clients share this one. SCALE_CLIENTS=n for another count.

import { spawn, type ChildProcess } from 'node:child_process';
import { WebSocket } from 'ws';
import { createClient, type OmnibusClient } from '../src/client/client.js';
import type { WebSocketConstructor } from '../src/client/connection.js';
import { percentile, printTable, type Row } from './measure.js';

const SERVER = new URL('./support/servers.ts', import.meta.url).pathname;
const CLIENTS = Number(process.env.SCALE_CLIENTS ?? 10_000);
/** Connections opened at once: more overflows loopback's accept queue. */
const CONNECTING = 200;
const MESSAGES = 20;
const note = 'x'.repeat(60);

interface Memory {
  rss: number;
  heapUsed: number;
}

interface Server {
  port: number;
  memory(): Promise<Memory>;
  stop(): void;
}

async function server(kind: 'gateway' | 'relay'): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER, kind], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  return {
    port,
    memory: () =>
      new Promise((resolve) => {
        child.once('message', (memory) => resolve(memory as Memory));
        child.send('memory');
      }),
    stop: () => void child.kill(),
  };
}

async function inBatches<T>(count: number, open: () => Promise<T>): Promise<T[]> {
  const opened: T[] = [];
  while (opened.length < count) opened.push(...(await Promise.all(Array.from({ length: Math.min(CONNECTING, count - opened.length) }, open))));
  return opened;
}

/** Waits until every one of `clients` has the message numbered `n`. */
function waiter(clients: number) {
  const got = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  return {
    received(n: number) {
      const count = (got.get(n) ?? 0) + 1;
      got.set(n, count);
      if (count === clients) waiting.get(n)?.();
    },
    all: (n: number) => new Promise<void>((resolve) => ((got.get(n) ?? 0) === clients ? resolve() : waiting.set(n, resolve))),
  };
}

interface Outcome {
  memory: Memory;
  latencies: number[];
}

async function gatewayRun(): Promise<Outcome> {
  const gateway = await server('gateway');
  const url = `ws://127.0.0.1:${gateway.port}/v1/ws`;
  const connect = (): OmnibusClient => createClient({ url, WebSocket: WebSocket as unknown as WebSocketConstructor });
  try {
    const before = await gateway.memory();
    const latencies: number[] = [];
    const arrivals = waiter(CLIENTS);
    const clients = await inBatches(CLIENTS, async () => {
      const client = connect();
      await client.subscribe('scale.tick', (msg) => {
        const { n, sentAt } = msg.data as { n: number; sentAt: number };
        latencies.push(performance.now() - sentAt);
        arrivals.received(n);
      });
      return client;
    });
    const memory = await perConnection(gateway, before);
    const publisher = connect();
    for (let n = 0; n < MESSAGES; n++) {
      const arrived = arrivals.all(n);
      await publisher.publish('scale.tick', { n, sentAt: performance.now(), note });
      await arrived;
    }
    await Promise.all([publisher, ...clients].map((client) => client.close()));
    return { memory, latencies: latencies.sort((a, b) => a - b) };
  } finally {
    gateway.stop();
  }
}

async function relayRun(): Promise<Outcome> {
  const relay = await server('relay');
  const open = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}`, { perMessageDeflate: false });
    await new Promise((resolve) => ws.once('open', resolve));
    return ws;
  };
  try {
    const before = await relay.memory();
    const latencies: number[] = [];
    const arrivals = waiter(CLIENTS);
    const sockets = await inBatches(CLIENTS, async () => {
      const ws = await open();
      ws.on('message', (data) => {
        const { n, sentAt } = JSON.parse(String(data)) as { n: number; sentAt: number };
        latencies.push(performance.now() - sentAt);
        arrivals.received(n);
      });
      return ws;
    });
    const memory = await perConnection(relay, before);
    const publisher = await open();
    for (let n = 0; n < MESSAGES; n++) {
      const arrived = arrivals.all(n);
      publisher.send(JSON.stringify({ n, sentAt: performance.now(), note }));
      await arrived;
    }
    for (const ws of [publisher, ...sockets]) ws.close();
    return { memory, latencies: latencies.sort((a, b) => a - b) };
  } finally {
    relay.stop();
  }
}

async function perConnection(target: Server, before: Memory): Promise<Memory> {
  const after = await target.memory();
  return { rss: (after.rss - before.rss) / CLIENTS, heapUsed: (after.heapUsed - before.heapUsed) / CLIENTS };
}

export default async function main(): Promise<void> {
  const gateway = await gatewayRun();
  const relay = await relayRun();
  const clients = CLIENTS.toLocaleString('en-US');
  const rows: Row[] = [
    { scenario: `server RSS per connection, ${clients} clients`, omnibus: gateway.memory.rss / 1024, baseline: relay.memory.rss / 1024, baselineName: 'ws relay', unit: 'KiB' },
    { scenario: `server heap per connection, ${clients} clients`, omnibus: gateway.memory.heapUsed / 1024, baseline: relay.memory.heapUsed / 1024, baselineName: 'ws relay', unit: 'KiB' },
  ];
  for (const p of [50, 99] as const) {
    rows.push({
      scenario: `publish-to-delivery p${p}, ${clients} clients`,
      omnibus: percentile(gateway.latencies, p),
      baseline: percentile(relay.latencies, p),
      baselineName: 'ws relay',
      unit: 'ms',
      percentile: p,
    });
  }
  printTable(rows);
}
