// A broker process that only one test uses: a free loopback port, a data directory of its
// own, stopped (and its directory removed) at the end, and killed with the test process if
// that dies first. Tests that stop or restart a broker use one, never the machine's own.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on the loopback port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface PrivateServer {
  readonly port: number;
  /** Stops it gracefully (SIGTERM, SIGKILL after 10 s) and waits until it exited; its directory stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory, and waits until it is ready. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

export interface ServerCommand {
  name: string;
  command: string;
  args(port: number, dir: string): string[];
  /** Whether it serves yet. Default: it accepts connections on its port. */
  ready?(port: number): Promise<boolean>;
  /** How long each start may take to be ready. Default: 10 s. */
  readyWithinMs?: number;
  /** Runs once before the first start, e.g. to format the data directory. */
  prepare?(port: number, dir: string): Promise<void>;
}

export async function startPrivateServer(spec: ServerCommand): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `omnibus-${spec.name}-`));
  const ready = spec.ready ?? accepts;
  const readyWithinMs = spec.readyWithinMs ?? 10_000;
  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async () => {
    if (child !== undefined) return;
    output = '';
    const started = spawn(spec.command, spec.args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout?.on('data', (chunk) => (output += chunk));
    started.stderr?.on('data', (chunk) => (output += chunk));
    const gone = () => {
      if (child === started) child = undefined;
    };
    started.once('exit', gone);
    started.once('error', (error) => {
      output += `${error.message}\n`;
      gone();
    });
    const deadline = Date.now() + readyWithinMs;
    while (!(await ready(port))) {
      if (child !== started) throw new Error(`${spec.name} on port ${port} exited while starting:\n${output}`);
      if (Date.now() > deadline) throw new Error(`${spec.name} on port ${port} was not ready within ${readyWithinMs / 1000} s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async () => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const dispose = async () => {
    await stop();
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await spec.prepare?.(port, dir);
    await start();
  } catch (error) {
    await dispose();
    throw error;
  }
  return { port, start, stop, dispose };
}
