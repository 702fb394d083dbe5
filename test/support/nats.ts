// Shared by the NATS tests: the server address, the skip check, removal of the streams a
// test run created, and private nats-server instances for tests that stop and restart one
// (the shared server on 4222 is never stopped by a test).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerSkip } from './broker.js';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export const NATS_START =
  'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log';

export const natsSkip = () => brokerSkip({ name: 'NATS', url: NATS_URL, start: NATS_START });

/** Deletes every stream whose name starts with `prefix`. */
export async function deleteStreams(prefix: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) if (name.startsWith(prefix)) names.push(name);
    for (const name of names) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

const NATS_SERVER = '/usr/sbin/nats-server';

/** A nats-server with JetStream that only this test uses, on a free port, with its own store directory. */
export interface PrivateNatsServer {
  readonly url: string;
  /** Stops it gracefully (SIGTERM) and waits until it exited; its store stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and removes its store directory. */
  dispose(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
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

/**
 * Starts `nats-server -a 127.0.0.1 -p <free port> -js -sd <tmp dir>`. Call `dispose()` in a
 * `finally`; a test process that dies first takes the server with it.
 */
export async function startPrivateNats(): Promise<PrivateNatsServer> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'omnibus-nats-'));
  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async () => {
    if (child !== undefined) return;
    output = '';
    const started = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child !== started) throw new Error(`nats-server on port ${port} exited while starting:\n${output}`);
      if (Date.now() > deadline) throw new Error(`nats-server on port ${port} did not accept connections within 10 s:\n${output}`);
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
    rmSync(store, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    await dispose();
    throw error;
  }
  return { url: `nats://127.0.0.1:${port}`, start, stop, dispose };
}
