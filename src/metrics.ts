// `omnibus/metrics`: the bus's counters as Prometheus metrics on a prom-client registry of
// the application's. They are read from `bus.stats()` when the registry is scraped, so
// publishing and delivering pay nothing for them. Consumer lag is asked of the brokers at
// scrape time too (`bus.lag()`).

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Bus } from './core/bus.js';
import { parseStatsKey, statsKey, type Counters } from './core/stats.js';

const PER_SUBSCRIPTION: Array<[keyof Counters, string, string]> = [
  ['delivered', 'omnibus_delivered_messages_total', 'Messages handed to handlers, redeliveries included.'],
  ['acked', 'omnibus_acked_messages_total', 'Messages acknowledged.'],
  ['retried', 'omnibus_retried_messages_total', 'Messages that failed or were nacked and go round again.'],
  ['deadLettered', 'omnibus_dead_lettered_messages_total', 'Messages moved to a dead-letter topic after their last attempt.'],
  ['dropped', 'omnibus_dropped_messages_total', 'Messages dropped because a subscription buffer was full.'],
];

/** The labels of a subscription's stats key; `group` is '' without one. */
function subscriptionLabels(key: string): { pattern: string; group: string } {
  const { pattern, group = '' } = parseStatsKey(key);
  return { pattern, group };
}

/**
 * Registers `omnibus_published_messages_total` (per driver) and the delivered, acked,
 * retried, dead-lettered and dropped counters (per subscription pattern and group) on
 * `registry`, and `omnibus_consumer_lag` (per group and pattern) with
 * `omnibus_consumer_lag_errors_total` counting the scrapes a group's driver did not answer.
 * Call it once per registry.
 */
export function collectMetrics(bus: Bus, registry: Registry): void {
  new Counter({
    name: 'omnibus_published_messages_total',
    help: 'Messages the bus handed to each driver.',
    labelNames: ['driver'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [driver, { published }] of Object.entries(bus.stats().byDriver)) this.inc({ driver }, published);
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
        for (const [key, counters] of Object.entries(bus.stats().byPattern)) this.inc(subscriptionLabels(key), counters[field]);
      },
    });
  }
  collectLag(bus, registry);
}

/**
 * A driver that fails to answer leaves its group's series out of that scrape (and the bus
 * reports the error) rather than failing the whole scrape.
 */
function collectLag(bus: Bus, registry: Registry): void {
  const errors = new Counter({
    name: 'omnibus_consumer_lag_errors_total',
    help: "Scrapes at which a driver could not report a group's lag, per subscription pattern and group.",
    labelNames: ['pattern', 'group'],
    registers: [registry],
  });
  new Gauge({
    name: 'omnibus_consumer_lag',
    help: 'Messages stored on the pattern that the group has not acknowledged yet, fetched from the brokers at scrape time.',
    labelNames: ['pattern', 'group'],
    registers: [registry],
    async collect() {
      this.reset();
      // A closed bus has no lag to show; the rest of the scrape still answers.
      const figures = await bus.lag().catch(() => []);
      for (const { pattern, group, lag } of figures) {
        if (lag === undefined) errors.inc({ pattern, group });
        else this.set({ pattern, group }, lag);
      }
      // Groups the bus no longer tracks take their error series with them, so these stay bounded too.
      const tracked = new Set(figures.map(({ pattern, group }) => statsKey(pattern, group)));
      for (const { labels } of (await errors.get()).values) {
        if (!tracked.has(statsKey(String(labels.pattern), String(labels.group)))) errors.remove({ pattern: String(labels.pattern), group: String(labels.group) });
      }
    },
  });
}
