// `omnibus serve`: the gateway on one port over the embedded SQLite driver (./omnibus.db), or
// over the driver(s) an omnibus.config.json / OMNIBUS_URL names. Stops cleanly on SIGTERM/SIGINT.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bus } from '../core/bus.js';
import { createBus } from '../create-bus.js';
import type { Logger } from '../core/logger.js';
import { createBusFromConfig, loadConfig } from '../config/index.js';
import { memory } from '../drivers/memory/index.js';
import { createGateway } from '../gateway/gateway.js';
import type { GatewayOptions } from '../gateway/options.js';

export interface ServeOptions {
  port: string;
  host: string;
  config?: string;
  db?: string;
  memory?: boolean;
  insecure?: boolean;
}

const stderrLogger: Logger = {
  error: (object, message) => console.error(`error: ${message ?? ''}`, JSON.stringify(object, errorFields)),
  warn: (object, message) => console.error(`warning: ${message ?? ''}`, JSON.stringify(object, errorFields)),
  info: () => {},
  debug: () => {},
};

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

async function openBus(options: ServeOptions, env: NodeJS.ProcessEnv): Promise<{ bus: Bus; described: string; gateway: Record<string, unknown> }> {
  const configPath = options.config ?? env.OMNIBUS_CONFIG;
  const fileExists = configPath !== undefined || existsSync(resolve('omnibus.config.json'));
  const config = fileExists || env.OMNIBUS_URL ? await loadConfig({ path: configPath, env }) : {};
  const gateway = (config.gateway ?? {}) as Record<string, unknown>;
  if (options.memory) {
    return { bus: createBus({ driver: memory({ history: { maxMessages: 100_000 } }) }), described: 'memory (in-process, history of 100,000 messages)', gateway };
  }
  if (options.db === undefined && (fileExists || env.OMNIBUS_URL)) {
    const bus = await createBusFromConfig({ path: configPath, env });
    return { bus, described: bus.drivers.map((d) => d.name).join(', ') + ' (from configuration)', gateway };
  }
  const path = resolve(options.db ?? 'omnibus.db');
  const { sqlite } = await import('../drivers/sqlite/index.js');
  const driver = sqlite({ path });
  await driver.ready();
  return { bus: createBus({ driver }), described: `sqlite at ${path}`, gateway };
}

export async function serve(options: ServeOptions): Promise<void> {
  const port = /^\d+$/.test(options.port) ? Number(options.port) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port must be a port number, not '${options.port}'`);
  if (options.memory && options.db !== undefined) throw new UsageError('--memory and --db each choose the driver; give one of them');
  const { bus, described, gateway: settings } = await openBus(options, process.env);
  const gateway = createGateway({ ...(settings as Partial<GatewayOptions>), bus, logger: stderrLogger, insecure: options.insecure === true });
  bus.on('error', ({ error, topic }) => stderrLogger.error({ err: error, topic }, 'bus error'));
  bus.on('connectionLost', ({ driver, error }) => stderrLogger.error({ driver, err: error }, 'driver connection lost; /healthz answers 503 until it is back'));
  bus.on('reconnected', ({ driver }) => console.error(`driver '${driver}' reconnected`));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping: no new connections, telling clients, flushing, closing the driver`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await gateway.close();
    await bus.close();
    console.error('stopped');
    process.exit(0);
  };
  // Installed before listening, so a signal that follows the "listening" line is never missed.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const listening = await gateway.listen(port, options.host);
  console.error(`omnibus gateway listening on http://${options.host}:${listening} (WebSocket ${gateway.path}) over ${described}`);
  // A broker that is down at start is said at once, not at the first failed publish.
  for (const driver of (await bus.health()).drivers) {
    if (!driver.connected) stderrLogger.error({ driver: driver.driver, error: driver.error }, 'driver is not connected; /healthz answers 503 until it is');
  }
}

export class UsageError extends Error {
  override name = 'UsageError';
}
