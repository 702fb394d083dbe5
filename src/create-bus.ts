// `createBus()`: the Bus with its default driver, so `createBus()` alone works in-process.

import { Bus, type BusOptions } from './core/bus.js';
import type { Driver } from './core/driver.js';
import { memory } from './drivers/memory/index.js';
import { installedTracing } from './tracing.js';

export type CreateBusOptions =
  | (Omit<BusOptions, 'drivers'> & { driver?: Driver; drivers?: undefined })
  | BusOptions;

/**
 * A bus over one driver (`driver`, default in-memory) or several (`drivers` + `routes`),
 * carrying OpenTelemetry trace context when @opentelemetry/api is installed.
 */
export function createBus(options: CreateBusOptions = {}): Bus {
  if (options.drivers !== undefined) return new Bus({ tracing: installedTracing, ...options });
  const { driver, ...rest } = options as { driver?: Driver };
  return new Bus({ tracing: installedTracing, ...rest, drivers: { [driver?.name ?? 'memory']: driver ?? memory() } });
}
