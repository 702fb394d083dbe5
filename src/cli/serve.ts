// `omnibus serve`: the gateway on one port over the embedded SQLite driver (./omnibus.db), or
// over the driver(s) an omnibus.config.json / OMNIBUS_URL names. Stops cleanly on SIGTERM/SIGINT.

import { loadCatalog } from './asyncapi.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bus } from '../core/bus.js';
import { createBus } from '../create-bus.js';
import { createBusFromConfig, loadConfig } from '../config/index.js';
import { memory } from '../drivers/memory/index.js';
import { createGateway } from '../gateway/gateway.js';
import type { GatewayOptions } from '../gateway/options.js';
import { serveLogger, type LogLevel } from './log.js';

export interface ServeOptions {
  port: string;
  host: string;
  config?: string;
  db?: string;
  memory?: boolean;
  insecure?: boolean;
  /** A module exporting the event catalogue, served at /asyncapi.json. */
  catalog?: string;
  /** From --log-level, else OMNIBUS_LOG_LEVEL, else info. */
  logLevel: LogLevel;
  pretty?: boolean;
}

interface Opened {
  bus: Bus;
  described: string;
  /** What the bus was made from, for the start-up line (secrets are redacted when logged). */
  config: Record<string, unknown>;
  gateway: Record<string, unknown>;
}

async function openBus(options: ServeOptions, env: NodeJS.ProcessEnv): Promise<Opened> {
  const configPath = options.config ?? env.OMNIBUS_CONFIG;
  const fileExists = configPath !== undefined || existsSync(resolve('omnibus.config.json'));
  const config = fileExists || env.OMNIBUS_URL ? await loadConfig({ path: configPath, env }) : {};
  const gateway = (config.gateway ?? {}) as Record<string, unknown>;
  if (options.memory) {
    const bus = createBus({ driver: memory({ history: { maxMessages: 100_000 } }) });
    return { bus, described: 'memory (in-process, history of 100,000 messages)', config: { driver: { type: 'memory' }, gateway }, gateway };
  }
  if (options.db === undefined && (fileExists || env.OMNIBUS_URL)) {
    const bus = await createBusFromConfig({ path: configPath, env });
    return { bus, described: bus.drivers.map((d) => d.name).join(', ') + ' (from configuration)', config, gateway };
  }
  const path = resolve(options.db ?? 'omnibus.db');
  const { sqlite } = await import('../drivers/sqlite/index.js');
  const driver = sqlite({ path });
  await driver.ready();
  return { bus: createBus({ driver }), described: `sqlite at ${path}`, config: { driver: { type: 'sqlite', path }, gateway }, gateway };
}

export async function serve(options: ServeOptions): Promise<void> {
  const port = /^\d+$/.test(options.port) ? Number(options.port) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port must be a port number, not '${options.port}'`);
  if (options.memory && options.db !== undefined) throw new UsageError('--memory and --db each choose the driver; give one of them');
  const log = serveLogger({ level: options.logLevel, pretty: options.pretty === true });
  const { bus, described, config, gateway: settings } = await openBus(options, process.env);
  log.info({ config: { ...config, port, host: options.host, insecure: options.insecure === true, logLevel: options.logLevel } }, 'starting');
  const asyncapi = options.catalog === undefined ? undefined : { catalog: await loadCatalog(options.catalog) };
  const gateway = createGateway({ ...(settings as Partial<GatewayOptions>), bus, logger: log, insecure: options.insecure === true, asyncapi });
  bus.on('error', ({ error, topic, driver }) => log.error({ err: error, topic, driver }, 'bus error'));
  bus.on('connectionLost', ({ driver, error }) => log.error({ driver, err: error }, 'driver connection lost; /healthz answers 503 until it is back'));
  bus.on('reconnected', ({ driver }) => log.info({ driver }, 'driver reconnected'));
  bus.on('deliveryFailed', ({ topic, id, driver, error, attempts, deadLetter }) =>
    log.warn({ topic, messageId: id, driver, err: error, attempts, deadLetter }, deadLetter === undefined ? 'delivery failed' : 'dead-lettered'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${signal}: stopping: no new connections, telling clients, flushing, closing the driver`);
    const force = setTimeout(() => {
      log.error({ signal }, 'shutdown took longer than 15 s; exiting anyway');
      process.exit(1);
    }, 15_000);
    force.unref();
    await gateway.close();
    log.info({}, 'gateway closed');
    await bus.close();
    log.info({}, 'bus closed; stopped');
    process.exit(0);
  };
  // Installed before listening, so a signal that follows the "listening" line is never missed.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const listening = await gateway.listen(port, options.host);
  const url = `http://${options.host}:${listening}`;
  log.info({ url, websocket: gateway.path, driver: described }, `omnibus gateway listening on ${url} (WebSocket ${gateway.path}) over ${described}`);
  // A broker that is down at start is said at once, not at the first failed publish.
  for (const driver of (await bus.health()).drivers) {
    if (!driver.connected) log.error({ driver: driver.driver, err: driver.error }, 'driver is not connected; /healthz answers 503 until it is');
  }
}

export class UsageError extends Error {
  override name = 'UsageError';
}
