// Multi-driver routing: each topic goes to the first route whose pattern matches it; a
// subscription listens on every driver that could hold a matching topic. A route may also
// mirror its topics to brokers: published to its own driver (delivered in process at once)
// and copied to each mirror, so other processes see them through the broker.

import type { Driver } from './driver.js';
import { ConfigurationError, NoRouteError } from './errors.js';
import { assertPattern, matchesPattern, patternsOverlap } from './topic.js';

export interface Route {
  /** Topic patterns this route takes, e.g. `['game.>']`. */
  topics: string[];
  /** The name of a driver in `drivers`: it stores the topics, and this bus's subscribers get them from it. */
  driver: string;
  /**
   * Drivers in `drivers` that get a copy of every message published here, for other
   * processes. This bus's subscribers never get those copies back (they carry its `id` in
   * `omnibus-origin`); groups subscribe through the mirrors instead of `driver`.
   */
  mirror?: string[];
}

export interface DriverEntry {
  readonly name: string;
  readonly driver: Driver;
  /** Messages this driver accepted. */
  published: number;
}

/** The drivers a subscription listens on, and those whose copies of this bus's own messages it skips. */
export interface Listeners {
  entries: DriverEntry[];
  skipOwn: Set<DriverEntry>;
}

interface Resolved {
  pattern: string;
  entry: DriverEntry;
  mirrors: DriverEntry[];
}

const NO_MIRRORS: DriverEntry[] = [];

export class Router {
  readonly entries: DriverEntry[];
  /** Whether any route mirrors: the publish path skips the mirror lookup when none does. */
  readonly mirrors: boolean;
  private readonly routes: Resolved[] = [];
  private readonly resolved = new Map<string, Resolved>();

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
      this.routes.push({ pattern: '>', entry: this.entries[0], mirrors: NO_MIRRORS });
      this.mirrors = false;
      return;
    }
    const named = (name: string, route: Route, role: string) => {
      const entry = byName.get(name);
      if (entry === undefined) {
        throw new ConfigurationError(
          `route for ${JSON.stringify(route.topics)} names ${role} '${name}', which is not among: ${[...byName.keys()].join(', ')}`,
        );
      }
      return entry;
    };
    for (const route of routes) {
      const entry = named(route.driver, route, 'driver');
      const mirrors = (route.mirror ?? []).map((name) => named(name, route, 'mirror'));
      for (const mirror of mirrors) {
        if (mirror === entry) throw new ConfigurationError(`route for ${JSON.stringify(route.topics)} mirrors driver '${mirror.name}' to itself`);
        // Copies go as bytes, for other processes: a driver that holds values in this process has none to reach.
        if (mirror.driver.carriesValues) {
          throw new ConfigurationError(`route for ${JSON.stringify(route.topics)} mirrors to '${mirror.name}', an in-process driver; a mirror must be a broker other processes reach`);
        }
      }
      for (const pattern of route.topics) {
        assertPattern(pattern);
        this.routes.push({ pattern, entry, mirrors });
      }
    }
    this.mirrors = this.routes.some((route) => route.mirrors.length > 0);
  }

  /** The driver that stores `topic`; throws `NoRouteError` if no route takes it. */
  driverFor(topic: string): DriverEntry {
    return this.routeFor(topic).entry;
  }

  /** The drivers that get a copy of what is published to `topic` (most topics: none). */
  mirrorsFor(topic: string): DriverEntry[] {
    return this.routeFor(topic).mirrors;
  }

  /** The drivers that store topics matching `pattern`, mirrors left out (for reading). */
  driversFor(pattern: string): DriverEntry[] {
    const found = new Set(this.routes.filter((route) => patternsOverlap(route.pattern, pattern)).map((route) => route.entry));
    if (found.size === 0) throw new NoRouteError(`no route can carry topics matching '${pattern}'`, { topic: pattern });
    return [...found];
  }

  /**
   * What a subscription on `pattern` listens on: each route's driver and its mirrors, whose
   * copies of this bus's own messages it skips; a group listens on a mirrored route's mirrors
   * alone, so each message reaches one member of the group wherever it was published.
   */
  listenersFor(pattern: string, group: boolean): Listeners {
    const entries = new Set<DriverEntry>();
    const skipOwn = new Set<DriverEntry>();
    for (const route of this.routes) {
      if (!patternsOverlap(route.pattern, pattern)) continue;
      if (route.mirrors.length === 0 || !group) entries.add(route.entry);
      for (const mirror of route.mirrors) {
        entries.add(mirror);
        if (!group) skipOwn.add(mirror);
      }
    }
    if (entries.size === 0) {
      throw new NoRouteError(`no route can carry topics matching '${pattern}'`, { topic: pattern });
    }
    return { entries: [...entries], skipOwn };
  }

  private routeFor(topic: string): Resolved {
    const known = this.resolved.get(topic);
    if (known !== undefined) return known;
    for (const route of this.routes) {
      if (matchesPattern(route.pattern, topic)) {
        if (this.resolved.size >= 10_000) this.resolved.clear();
        this.resolved.set(topic, route);
        return route;
      }
    }
    throw new NoRouteError(`no route accepts topic '${topic}'; add a route whose topics match it`, { topic });
  }
}
