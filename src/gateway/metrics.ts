// The registry behind GET /metrics: the bus's counters (omnibus/metrics), the gateway's
// open connections and streams, and the process's own figures (prom-client's defaults).

import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Bus } from '../core/bus.js';
import { collectMetrics } from '../metrics.js';

export interface MetricsSource {
  bus: Bus;
  /** Open WebSocket connections. */
  connections(): number;
  /** Open Server-Sent Events streams. */
  streams(): number;
}

export function metricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  collectMetrics(source.bus, registry);
  new Gauge({
    name: 'omnibus_gateway_connections',
    help: 'Open WebSocket connections.',
    registers: [registry],
    collect() {
      this.set(source.connections());
    },
  });
  new Gauge({
    name: 'omnibus_gateway_streams',
    help: 'Open Server-Sent Events streams.',
    registers: [registry],
    collect() {
      this.set(source.streams());
    },
  });
  return registry;
}
