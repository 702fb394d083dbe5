// Shared by the RabbitMQ tests: the broker address, the skip check, removal of what a test
// run declared (its exchanges and every queue named after them), and a private broker for
// tests that stop and restart one.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { brokerSkip } from './broker.js';
import { freePort, startPrivateServer, type PrivateServer } from './private-server.js';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const AMQP_START = 'rabbitmq-server -detached';

export const amqpSkip = () => brokerSkip({ name: 'RabbitMQ', url: AMQP_URL, start: AMQP_START });

const run = promisify(execFile);

/** Deletes the exchange `exchange` and its delay exchange, and every queue whose name starts with it, on the broker at `url`. */
export async function deleteExchange(exchange: string, url = AMQP_URL, node?: string): Promise<void> {
  const { stdout } = await run('rabbitmqctl', [...(node === undefined ? [] : ['-n', node]), 'list_queues', '--quiet', '--no-table-headers', 'name'], { timeout: 60_000 });
  const queues = stdout.split('\n').map((line) => line.trim()).filter((name) => name.startsWith(exchange));
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
    await channel.deleteExchange(`${exchange}.delays`);
  } finally {
    await connection.close();
  }
}

/** A RabbitMQ node only this test uses, on a free port, with its own data and log directories. */
export interface PrivateRabbit extends PrivateServer {
  readonly url: string;
}

/**
 * `rabbitmq-server` as a node named `omnibus-<port>@localhost`, its data in a temporary
 * directory, so stopping and starting it keeps its durable queues. Erlang starts it in
 * 5-10 s. The machine's own node (5672) is never touched. Call `dispose()` in a `finally`.
 */
export async function startPrivateRabbit(): Promise<PrivateRabbit> {
  const distPort = await freePort();
  const server = await startPrivateServer({
    name: 'rabbitmq-server',
    // env execs the script, so the server's own SIGTERM handling stops it.
    command: 'env',
    args: (port, dir) => [
      `HOME=${dir}`,
      `RABBITMQ_NODENAME=omnibus-${port}@localhost`,
      `RABBITMQ_NODE_PORT=${port}`,
      `RABBITMQ_DIST_PORT=${distPort}`,
      `RABBITMQ_CONFIG_FILE=${join(dir, 'rabbitmq.conf')}`,
      `RABBITMQ_ENABLED_PLUGINS_FILE=${join(dir, 'enabled_plugins')}`,
      `RABBITMQ_MNESIA_BASE=${join(dir, 'mnesia')}`,
      `RABBITMQ_LOG_BASE=${join(dir, 'log')}`,
      // The machine's rabbitmq-env.conf names the shared node: read none.
      'RABBITMQ_CONF_ENV_FILE=/dev/null',
      '/usr/lib/rabbitmq/bin/rabbitmq-server',
    ],
    async prepare(port, dir) {
      writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`);
      writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    },
    readyWithinMs: 60_000,
  });
  return Object.assign(server, { url: `amqp://guest:guest@127.0.0.1:${server.port}` });
}
