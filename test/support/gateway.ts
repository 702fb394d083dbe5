// Shared by the gateway, client and CLI tests: a gateway on a free loopback port, the `ws`
// WebSocket for Node 20, child gateway processes, and raw protocol sockets.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { Bus } from '../../src/core/bus.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { createGateway, type Gateway } from '../../src/gateway/index.js';
import type { GatewayOptions } from '../../src/gateway/options.js';
import type { WebSocketConstructor } from '../../src/client/connection.js';
import { freePort } from './private-server.js';

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

export interface Running {
  gateway: Gateway;
  bus: Bus;
  port: number;
  url: string;
  http: string;
  close(): Promise<void>;
}

/** A gateway over `bus` (default: memory with history and dedupe) on a free loopback port. */
export async function startGateway(options: Partial<GatewayOptions> = {}): Promise<Running> {
  const bus = options.bus ?? createBus({ driver: memory({ history: { maxMessages: 100_000 }, dedupeWindowMs: 60_000 }) });
  const gateway = createGateway({ ...options, bus, logger: options.logger ?? quietLogger });
  const port = await gateway.listen(0, '127.0.0.1');
  return {
    gateway,
    bus,
    port,
    url: `ws://127.0.0.1:${port}/v1/ws`,
    http: `http://127.0.0.1:${port}`,
    close: async () => {
      await gateway.close(1_000);
      await bus.close();
    },
  };
}

export const quietLogger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** A raw protocol socket that collects frames, for tests of the protocol itself. */
export class RawSocket {
  readonly frames: Array<Record<string, any>> = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: Array<() => void> = [];
  private nextId = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.frames.push(JSON.parse(String(data)));
      } catch {
        this.frames.push({ type: 'unparsable', raw: String(data) });
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = String(reason);
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.on('error', () => {});
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawSocket> {
    const ws = new WebSocket(url, { headers });
    const socket = new RawSocket(ws);
    await once(ws, 'open');
    await socket.waitFor((f) => f.type === 'welcome');
    return socket;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a request with a fresh id and resolves with its reply or error frame. */
  async request(frame: Record<string, unknown>, timeoutMs = 5_000): Promise<Record<string, any>> {
    const id = `r${++this.nextId}`;
    this.send({ ...frame, id });
    return this.waitFor((f) => (f.type === 'reply' || f.type === 'error') && f.id === id, timeoutMs);
  }

  async waitFor(predicate: (frame: Record<string, any>) => boolean, timeoutMs = 5_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found !== undefined) return found;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) before the frame arrived`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  async closed(timeoutMs = 5_000): Promise<number> {
    if (this.closeCode !== undefined) return this.closeCode;
    await Promise.race([once(this.ws, 'close'), new Promise((r) => setTimeout(r, timeoutMs))]);
    if (this.closeCode === undefined) throw new Error('the socket did not close');
    return this.closeCode;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A gateway in a child process (`omnibus serve`), stopped with `kill`. */
export interface ChildGateway {
  child: ChildProcess;
  port: number;
  url: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export async function spawnGateway(args: string[], env: Record<string, string> = {}, port?: number): Promise<ChildGateway> {
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', String(chosen), '--host', '127.0.0.1', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 20_000;
  while (!output.includes('listening')) {
    if (child.exitCode !== null) throw new Error(`omnibus serve exited with ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`omnibus serve did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    port: chosen,
    url: `ws://127.0.0.1:${chosen}/v1/ws`,
    output: () => output,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}
