// GET /metrics in the Prometheus text format: the bus's counters, read from `bus.stats()`
// when scraped so that publishing pays nothing for them, the gateway's open connections,
// and the process's own figures (prom-client's default metrics).

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Bus } from '../core/bus.js';
import type { Counters } from '../core/stats.js';

export interface MetricsSource {
  bus: Bus;
  /** Open WebSocket connections. */
  connections(): number;
  /** Open Server-Sent Events streams. */
  streams(): number;
}

const PER_SUBSCRIPTION: Array<[keyof Counters, string, string]> = [
  ['delivered', 'omnibus_delivered_messages_total', 'Messages handed to handlers, redeliveries included.'],
  ['acked', 'omnibus_acked_messages_total', 'Messages acknowledged.'],
  ['retried', 'omnibus_retried_messages_total', 'Messages that failed or were nacked and go round again.'],
  ['deadLettered', 'omnibus_dead_lettered_messages_total', 'Messages moved to a dead-letter topic after their last attempt.'],
  ['dropped', 'omnibus_dropped_messages_total', 'Messages dropped because a subscription buffer was full.'],
];

/** `bus.stats()` keys subscriptions as `pattern` or `pattern#group`; a topic cannot hold '#'. */
function subscriptionLabels(key: string): { pattern: string; group: string } {
  const at = key.indexOf('#');
  return at < 0 ? { pattern: key, group: '' } : { pattern: key.slice(0, at), group: key.slice(at + 1) };
}

export function metricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Counter({
    name: 'omnibus_published_messages_total',
    help: 'Messages the bus handed to each driver.',
    labelNames: ['driver'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [driver, { published }] of Object.entries(source.bus.stats().byDriver)) this.inc({ driver }, published);
    },
  });
  for (const [field, name, help] of PER_SUBSCRIPTION) {
    new Counter({
      name,
      help: `${help} Per subscription pattern and group ('' without one).`,
      labelNames: ['pattern', 'group'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, counters] of Object.entries(source.bus.stats().byPattern)) this.inc(subscriptionLabels(key), counters[field]);
      },
    });
  }
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
