// Consumer lag: the groups a bus has subscribed, and asking their drivers how far behind
// each is. Fetching is async and costs a broker round trip, so it runs on demand
// (`bus.lag()`, a metrics scrape), never on the publish or delivery path.

import type { Driver } from './driver.js';
import { ConnectionError, errorMessage, OmnibusError } from './errors.js';

export interface GroupLag {
  pattern: string;
  group: string;
  /**
   * Messages stored on the pattern that the group has not acknowledged (not yet delivered, or
   * delivered and unsettled), summed over the drivers the pattern routes to that report lag.
   * Undefined when one of them could not answer: `error` says why.
   */
  lag: number | undefined;
  error?: OmnibusError;
  /** When it was fetched, milliseconds since the epoch. */
  time: number;
}

export interface LagOptions {
  /** How long a driver may take to answer before its group counts as failed. Default 5 s. */
  timeoutMs?: number;
}

interface KnownGroup {
  pattern: string;
  group: string;
  /** Drivers of the pattern that can report lag (`Driver.lag`). */
  drivers: Driver[];
  /** This bus's open subscriptions in the group: while one is open the group is never forgotten. */
  open: Set<object>;
}

/**
 * Groups remembered at most. Each costs a broker query per fetch, and a gateway lets clients
 * name groups, so past it the group whose last subscription closed longest ago is forgotten
 * for the new one; groups with an open subscription are kept, and a new group finding only
 * those goes untracked.
 */
export const MAX_LAG_GROUPS = 1_000;

/** The groups this bus subscribed during its life, kept after their subscriptions close: an idle group's lag grows, which is what an operator watches for. */
export class GroupLags {
  /** In the order their last subscription opened or closed, oldest first. */
  private readonly groups = new Map<string, KnownGroup>();
  private readonly last = new Map<string, GroupLag>();

  /** Remembers `subscription`, open in a group; `key` is its stats key (`pattern#group`). */
  add(key: string, pattern: string, group: string, drivers: Driver[], subscription: object): void {
    const known = this.groups.get(key);
    if (known !== undefined) {
      known.open.add(subscription);
      return;
    }
    const reporting = drivers.filter((driver) => driver.lag !== undefined);
    if (reporting.length === 0) return;
    if (this.groups.size >= MAX_LAG_GROUPS && !this.forgetOneClosed()) return;
    this.groups.set(key, { pattern, group, drivers: reporting, open: new Set([subscription]) });
  }

  /** `subscription` closed: with its group's last one gone, the group becomes the newest to forget. */
  closed(key: string, subscription: object): void {
    const known = this.groups.get(key);
    if (known === undefined || !known.open.delete(subscription) || known.open.size > 0) return;
    this.groups.delete(key);
    this.groups.set(key, known);
  }

  private forgetOneClosed(): boolean {
    for (const [key, known] of this.groups) {
      if (known.open.size > 0) continue;
      this.groups.delete(key);
      this.last.delete(key);
      return true;
    }
    return false;
  }

  /** Asks every driver at once; a failure or a timeout leaves that group's `lag` undefined and goes to `report`. */
  async fetch(options: LagOptions, report: (error: OmnibusError, pattern: string) => void): Promise<GroupLag[]> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    return Promise.all(
      [...this.groups].map(async ([key, { pattern, group, drivers }]) => {
        let figure: GroupLag;
        try {
          const counts = await Promise.all(drivers.map((driver) => askDriver(driver, pattern, group, timeoutMs)));
          figure = { pattern, group, lag: counts.reduce((sum, count) => sum + count, 0), time: Date.now() };
        } catch (error) {
          const failed = error as OmnibusError;
          report(failed, pattern);
          figure = { pattern, group, lag: undefined, error: failed, time: Date.now() };
        }
        this.last.set(key, figure);
        return figure;
      }),
    );
  }

  /** The figures of the last fetch, by stats key. */
  lastFetched(): Record<string, GroupLag> {
    return Object.fromEntries(this.last);
  }
}

async function askDriver(driver: Driver, pattern: string, group: string, timeoutMs: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConnectionError(`driver '${driver.name}' did not report the lag of group '${group}' on '${pattern}' within ${timeoutMs} ms`, { topic: pattern })),
      timeoutMs,
    );
  });
  try {
    const lag = await Promise.race([driver.lag!({ pattern, group }), timeout]);
    if (!Number.isSafeInteger(lag) || lag < 0) throw new Error(`it answered ${String(lag)}, not a count`);
    return lag;
  } catch (error) {
    if (error instanceof OmnibusError) throw error;
    throw new ConnectionError(`driver '${driver.name}' could not report the lag of group '${group}' on '${pattern}': ${errorMessage(error)}`, {
      topic: pattern,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
