// Through the network: one publisher client to N subscriber clients (N = 1, 10, 100) via the
// gateway, beside a Socket.IO room broadcast (what a user would otherwise pick: acked emits,
// websocket transport) and a bare `ws` server relaying the same frames, each server in its own
// process, rounds interleaved. Also publish-to-subscriber latency, one message at a time.

import { spawn, type ChildProcess } from 'node:child_process';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { createClient, type OmnibusClient } from '../src/client/client.js';
import type { WebSocketConstructor } from '../src/client/connection.js';
import { interleaved, percentile, printTable, type Row } from './measure.js';

const SERVERS = new URL('./support/servers.ts', import.meta.url).pathname;
const payload = { id: 'order-000001', customer: 'customer-42', total: 1234.5, note: 'x'.repeat(40) };
const COUNTS: Record<number, number> = { 1: 40_000, 10: 10_000, 100: 2_000 };
/** Acknowledged publishes in flight at once, for the gateway and Socket.IO alike. */
const WINDOW = 100;

async function server(kind: 'gateway' | 'relay' | 'socketio'): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVERS, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  return { child, port };
}

const client = (port: number): OmnibusClient =>
  createClient({ url: `ws://127.0.0.1:${port}/v1/ws`, WebSocket: WebSocket as unknown as WebSocketConstructor });

/** Counts deliveries; `finished` resolves once `target` arrived. */
function deliveries(target: number): { arrived: () => void; finished: Promise<void> } {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  return { arrived: () => void (++received === target && done()), finished };
}

/** Messages per second: `count` acked publishes, WINDOW in flight, until every delivery arrived. */
async function ackedRate(count: number, publish: () => Promise<unknown>, finished: Promise<void>): Promise<number> {
  const start = performance.now();
  const window: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    window.push(publish());
    if (window.length >= WINDOW) await window.shift();
  }
  await Promise.all(window);
  await finished;
  return count / ((performance.now() - start) / 1000);
}

/** Messages published per second through the gateway, each delivered to every subscriber. */
async function gatewayRate(port: number, subscribers: number, count: number): Promise<number> {
  const publisher = client(port);
  const receivers = Array.from({ length: subscribers }, () => client(port));
  const { arrived, finished } = deliveries(count * subscribers);
  await Promise.all(receivers.map((r) => r.subscribe('bench.orders', arrived)));
  await publisher.ready();
  const rate = await ackedRate(count, () => publisher.publish('bench.orders', payload), finished);
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
  const { arrived, finished } = deliveries(count * subscribers);
  for (const r of receivers) r.on('message', (data) => void (JSON.parse(String(data)), arrived()));
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

async function connect(port: number): Promise<Socket> {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

/** The same through a Socket.IO room: subscribers join it, the publisher's emits are acked. */
async function socketIoRate(port: number, subscribers: number, count: number): Promise<number> {
  const publisher = await connect(port);
  const receivers = await Promise.all(Array.from({ length: subscribers }, () => connect(port)));
  const { arrived, finished } = deliveries(count * subscribers);
  for (const r of receivers) r.on('message', arrived);
  await Promise.all(receivers.map((r) => r.emitWithAck('join', 'bench.orders')));
  const rate = await ackedRate(count, () => publisher.emitWithAck('publish', 'bench.orders', payload), finished);
  for (const socket of [publisher, ...receivers]) socket.close();
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

async function socketIoLatency(port: number, count: number): Promise<number[]> {
  const publisher = await connect(port);
  const subscriber = await connect(port);
  const samples: number[] = [];
  let arrived: () => void = () => {};
  subscriber.on('message', (_room: string, data: { at: number }) => {
    samples.push(performance.now() - data.at);
    arrived();
  });
  await subscriber.emitWithAck('join', 'bench.latency');
  for (let i = 0; i < count; i++) {
    const next = new Promise<void>((resolve) => (arrived = resolve));
    // Its ack awaited too, as closing the socket fails acks still pending.
    await Promise.all([publisher.emitWithAck('publish', 'bench.latency', { at: performance.now(), payload }), next]);
  }
  publisher.close();
  subscriber.close();
  return samples.sort((a, b) => a - b);
}

export default async function bench(): Promise<void> {
  const gateway = await server('gateway');
  const relay = await server('relay');
  const socketio = await server('socketio');
  const rows: Row[] = [];
  try {
    for (const subscribers of [1, 10, 100]) {
      const count = COUNTS[subscribers];
      const figures = await interleaved(3, {
        omnibus: (round) => gatewayRate(gateway.port, subscribers, round === 0 ? 2_000 : count),
        socketio: (round) => socketIoRate(socketio.port, subscribers, round === 0 ? 2_000 : count),
        relay: (round) => relayRate(relay.port, subscribers, round === 0 ? 2_000 : count),
      });
      const scenario = `1 publisher -> ${subscribers} subscriber(s), msg/s published`;
      rows.push({ scenario, omnibus: figures.omnibus, baseline: figures.socketio, baselineName: 'Socket.IO', unit: 'msg/s' });
      rows.push({ scenario, omnibus: figures.omnibus, baseline: figures.relay, baselineName: 'ws relay', unit: 'msg/s' });
    }
    await gatewayLatency(gateway.port, 300); // warm-up
    const ours = await gatewayLatency(gateway.port, 3_000);
    const socketIo = await socketIoLatency(socketio.port, 3_000);
    const relayed = await relayLatency(relay.port, 3_000);
    for (const p of [50, 99]) {
      const scenario = `publish-to-subscriber latency p${p}`;
      rows.push({ scenario, omnibus: percentile(ours, p), baseline: percentile(socketIo, p), baselineName: 'Socket.IO', unit: 'ms' });
      rows.push({ scenario, omnibus: percentile(ours, p), baseline: percentile(relayed, p), baselineName: 'ws relay', unit: 'ms' });
    }
  } finally {
    for (const each of [gateway, relay, socketio]) each.child.kill();
  }
  printTable(rows);
}
