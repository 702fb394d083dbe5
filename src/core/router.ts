// Multi-driver routing: each topic goes to the first route whose pattern matches it; a
// subscription listens on every driver that could hold a matching topic.

import type { Driver } from './driver.js';
import { ConfigurationError, NoRouteError } from './errors.js';
import { assertPattern, matchesPattern, patternsOverlap } from './topic.js';

export interface Route {
  /** Topic patterns this route takes, e.g. `['game.>']`. */
  topics: string[];
  /** The name of a driver in `drivers`. */
  driver: string;
}

export interface DriverEntry {
  readonly name: string;
  readonly driver: Driver;
  /** Messages this driver accepted. */
  published: number;
}

export class Router {
  readonly entries: DriverEntry[];
  private readonly routes: Array<{ pattern: string; entry: DriverEntry }> = [];
  private readonly resolved = new Map<string, DriverEntry>();

  constructor(drivers: Record<string, Driver>, routes: Route[] | undefined) {
    const byName = new Map<string, DriverEntry>();
    for (const [name, driver] of Object.entries(drivers)) {
      byName.set(name, { name, driver, published: 0 });
    }
    this.entries = [...byName.values()];
    if (this.entries.length === 0) throw new ConfigurationError('a bus needs at least one driver');
    if (routes === undefined) {
      if (this.entries.length > 1) {
        throw new ConfigurationError(
          `a bus with several drivers (${[...byName.keys()].join(', ')}) needs routes saying which topics go where`,
        );
      }
      this.routes.push({ pattern: '>', entry: this.entries[0] });
      return;
    }
    for (const route of routes) {
      const entry = byName.get(route.driver);
      if (entry === undefined) {
        throw new ConfigurationError(
          `route for ${JSON.stringify(route.topics)} names driver '${route.driver}', which is not among: ${[...byName.keys()].join(', ')}`,
        );
      }
      for (const pattern of route.topics) {
        assertPattern(pattern);
        this.routes.push({ pattern, entry });
      }
    }
  }

  /** The driver that stores `topic`; throws `NoRouteError` if no route takes it. */
  driverFor(topic: string): DriverEntry {
    const known = this.resolved.get(topic);
    if (known !== undefined) return known;
    for (const route of this.routes) {
      if (matchesPattern(route.pattern, topic)) {
        if (this.resolved.size >= 10_000) this.resolved.clear();
        this.resolved.set(topic, route.entry);
        return route.entry;
      }
    }
    throw new NoRouteError(`no route accepts topic '${topic}'; add a route whose topics match it`, { topic });
  }

  /** Every driver a subscription on `pattern` must listen on. */
  driversFor(pattern: string): DriverEntry[] {
    const found = new Set<DriverEntry>();
    for (const route of this.routes) {
      if (patternsOverlap(route.pattern, pattern)) found.add(route.entry);
    }
    if (found.size === 0) {
      throw new NoRouteError(`no route can carry topics matching '${pattern}'`, { topic: pattern });
    }
    return [...found];
  }
}
