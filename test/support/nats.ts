// Shared by the NATS tests: the server address, the skip check, removal of the streams a
// test run created, and private nats-server instances for tests that stop and restart one
// (the shared server on 4222 is never stopped by a test).

import { brokerSkip } from './broker.js';
import { startPrivateServer, type PrivateServer } from './private-server.js';

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

/** A nats-server with JetStream that only this test uses, on a free port, with its own store directory. */
export interface PrivateNatsServer extends PrivateServer {
  readonly url: string;
}

/**
 * `nats-server -a 127.0.0.1 -p <free port> -js -sd <tmp dir>`; its store survives `stop()`
 * (a graceful SIGTERM). Call `dispose()` in a `finally`.
 */
export async function startPrivateNats(): Promise<PrivateNatsServer> {
  const server = await startPrivateServer({
    name: 'nats-server',
    command: '/usr/sbin/nats-server',
    args: (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
  });
  return Object.assign(server, { url: `nats://127.0.0.1:${server.port}` });
}
