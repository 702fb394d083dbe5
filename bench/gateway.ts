// Through the network: one publisher client to N subscriber clients (N = 1, 10, 100) via the
// gateway, beside a bare `ws` server relaying the same frames, each server in its own process
// and measured in the same run. Also publish-to-subscriber latency, one message at a time.

import { spawn, type ChildProcess } from 'node:child_process';
import { WebSocket } from 'ws';
import { createClient, type OmnibusClient } from '../src/client/client.js';
import type { WebSocketConstructor } from '../src/client/connection.js';
import { percentile, printTable, type Row } from './measure.js';

const SERVERS = new URL('./support/servers.ts', import.meta.url).pathname;
const payload = { id: 'order-000001', customer: 'customer-42', total: 1234.5, note: 'x'.repeat(40) };
const COUNTS: Record<number, number> = { 1: 40_000, 10: 10_000, 100: 2_000 };
const WINDOW = 1_000;

async function server(kind: 'gateway' | 'relay'): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVERS, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  return { child, port };
}

const client = (port: number): OmnibusClient =>
  createClient({ url: `ws://127.0.0.1:${port}/v1/ws`, WebSocket: WebSocket as unknown as WebSocketConstructor });

/** Messages published per second through the gateway, each delivered to every subscriber. */
async function gatewayRate(port: number, subscribers: number, count: number): Promise<number> {
  const publisher = client(port);
  const receivers = Array.from({ length: subscribers }, () => client(port));
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const target = count * subscribers;
  await Promise.all(receivers.map((r) => r.subscribe('bench.orders', () => void (++received === target && done()))));
  await publisher.ready();
  const start = performance.now();
  const window: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    window.push(publisher.publish('bench.orders', payload));
    if (window.length >= WINDOW) await window.shift();
  }
  await Promise.all(window);
  await finished;
  const rate = count / ((performance.now() - start) / 1000);
  await Promise.all([publisher, ...receivers].map((c) => c.close()));
  return rate;
}

async function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise((resolve) => ws.once('open', resolve));
  return ws;
}

/** The same frames through a bare relay: subscribers parse each one, as the client does. */
async function relayRate(port: number, subscribers: number, count: number): Promise<number> {
  const publisher = await open(port);
  const receivers = await Promise.all(Array.from({ length: subscribers }, () => open(port)));
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const target = count * subscribers;
  for (const r of receivers) r.on('message', (data) => void (JSON.parse(String(data)), ++received === target && done()));
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    publisher.send(JSON.stringify({ type: 'message', subscription: 's1', delivery: i, messageId: String(i), topic: 'bench.orders', data: payload, headers: {}, time: Date.now(), seq: String(i), attempt: 1 }));
    if (i % WINDOW === 0) await new Promise((r) => setImmediate(r));
  }
  await finished;
  const rate = count / ((performance.now() - start) / 1000);
  for (const ws of [publisher, ...receivers]) ws.close();
  return rate;
}

async function gatewayLatency(port: number, count: number): Promise<number[]> {
  const publisher = client(port);
  const subscriber = client(port);
  const samples: number[] = [];
  let arrived: () => void = () => {};
  await subscriber.subscribe('bench.latency', (m) => {
    samples.push(performance.now() - (m.data as { at: number }).at);
    arrived();
  });
  for (let i = 0; i < count; i++) {
    const next = new Promise<void>((resolve) => (arrived = resolve));
    void publisher.publish('bench.latency', { at: performance.now(), payload });
    await next;
  }
  await Promise.all([publisher.close(), subscriber.close()]);
  return samples.sort((a, b) => a - b);
}

async function relayLatency(port: number, count: number): Promise<number[]> {
  const publisher = await open(port);
  const subscriber = await open(port);
  const samples: number[] = [];
  let arrived: () => void = () => {};
  subscriber.on('message', (data) => {
    samples.push(performance.now() - JSON.parse(String(data)).data.at);
    arrived();
  });
  for (let i = 0; i < count; i++) {
    const next = new Promise<void>((resolve) => (arrived = resolve));
    publisher.send(JSON.stringify({ type: 'publish', id: String(i), topic: 'bench.latency', data: { at: performance.now(), payload } }));
    await next;
  }
  publisher.close();
  subscriber.close();
  return samples.sort((a, b) => a - b);
}

export default async function bench(): Promise<void> {
  const gateway = await server('gateway');
  const relay = await server('relay');
  const rows: Row[] = [];
  try {
    for (const subscribers of [1, 10, 100]) {
      const count = COUNTS[subscribers];
      await gatewayRate(gateway.port, subscribers, Math.min(count, 2_000)); // warm-up
      await relayRate(relay.port, subscribers, Math.min(count, 2_000));
      const ours = await gatewayRate(gateway.port, subscribers, count);
      const theirs = await relayRate(relay.port, subscribers, count);
      rows.push({ scenario: `1 publisher -> ${subscribers} subscriber(s), msg/s published`, omnibus: ours, baseline: theirs, baselineName: 'ws relay', unit: 'msg/s' });
    }
    const ours = await gatewayLatency(gateway.port, 3_000);
    const theirs = await relayLatency(relay.port, 3_000);
    for (const p of [50, 99]) {
      rows.push({ scenario: `publish-to-subscriber latency p${p}`, omnibus: percentile(ours, p), baseline: percentile(theirs, p), baselineName: 'ws relay', unit: 'ms' });
    }
  } finally {
    gateway.child.kill();
    relay.child.kill();
  }
  printTable(rows);
}
