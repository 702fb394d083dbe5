// What the broker restart tests share. Each outage of a private server must bring one
// `connectionLost` and then one `reconnected` on the bus, naming the driver, and a group, a
// fan-out and a wildcard subscription must all resume. The tests wait for each event rather
// than guess how long a reconnect takes.

import assert from 'node:assert/strict';
import type { Bus } from '../../src/core/bus.js';
import { eventually } from '../../src/testing/wait.js';

export interface ConnectionEvents {
  /** After the server stopped: waits for this outage's `connectionLost`, the only event since the last `reconnected`. */
  lost(): Promise<void>;
  /** After the server started again: waits for this outage's `reconnected`, the only event since `connectionLost`. */
  reconnected(): Promise<void>;
  /** Asserts the bus reported nothing since the last `reconnected`. */
  steady(): void;
}

export function connectionEvents(bus: Bus, driver: string): ConnectionEvents {
  const seen: string[] = [];
  bus.on('connectionLost', (event) => void seen.push(`connectionLost from ${event.driver}`));
  bus.on('reconnected', (event) => void seen.push(`reconnected from ${event.driver}`));
  let outages = 0;
  const expected = (events: number) =>
    Array.from({ length: events }, (_, i) => (i % 2 === 0 ? `connectionLost from ${driver}` : `reconnected from ${driver}`));
  const reach = async (events: number, what: string) => {
    // A reconnect waits out the client's backoff, a second or two: 20 s is far beyond it.
    await eventually(() => seen.length >= events, `${what} from ${driver} (outage ${outages})`, 20_000);
    assert.deepEqual(seen, expected(events), `the connection events up to ${what} of outage ${outages}`);
  };
  return {
    lost: () => reach(2 * ++outages - 1, 'connectionLost'),
    reconnected: () => reach(2 * outages, 'reconnected'),
    steady: () => assert.deepEqual(seen, expected(2 * outages), 'no connection event after the last reconnected'),
  };
}

export interface RestartSubscriptions {
  /** The numbers the group member received. */
  readonly grouped: ReadonlySet<number>;
  /** Waits until every subscription has received 0 .. count - 1. */
  received(count: number): Promise<void>;
}

/** A group member on `topic`, a plain subscriber on it and one on `${root}.>`, each recording the numbers it receives. */
export async function restartSubscriptions(bus: Bus, root: string, topic: string): Promise<RestartSubscriptions> {
  const grouped = new Set<number>();
  const fanout = new Set<number>();
  const wildcard = new Set<number>();
  await bus.subscribe(topic, (m) => void grouped.add(m.data as number), { group: 'survivors' });
  await bus.subscribe(topic, (m) => void fanout.add(m.data as number));
  await bus.subscribe(`${root}.>`, (m) => void wildcard.add(m.data as number));
  const has = (seen: Set<number>, count: number) => [...Array(count).keys()].every((n) => seen.has(n));
  return {
    grouped,
    received: (count) =>
      eventually(() => [grouped, fanout, wildcard].every((seen) => has(seen, count)), `0 .. ${count - 1} on the group, fan-out and wildcard subscriptions`, 20_000),
  };
}

export interface Outages {
  server: { stop(): Promise<void>; start(): Promise<void> };
  connection: ConnectionEvents;
  subscriptions: RestartSubscriptions;
  /** Publishes the numbers from .. to - 1, each awaited. */
  publish(from: number, to: number): Promise<void>;
  /**
   * Runs while the server is down, once its `connectionLost` came: asserts what a publish
   * does then. It may start a publish of `first` that is to complete once the server is back
   * (a driver that waits out outages) and return it as `held`; the numbers then go on from `first + 1`.
   */
  whileDown(outage: number, first: number): Promise<{ held: Promise<unknown> } | void>;
}

/**
 * Twenty numbers, then two outages: each stops the server, starts it again and publishes
 * twenty more once the bus says it is back, and every subscription must get them all.
 */
export async function throughTwoOutages({ server, connection, subscriptions, publish, whileDown }: Outages): Promise<void> {
  await publish(0, 20);
  await subscriptions.received(20);
  for (const outage of [1, 2]) {
    await server.stop();
    await connection.lost();
    const waiting = await whileDown(outage, outage * 20);
    await server.start();
    await connection.reconnected();
    await waiting?.held;
    // Published once the bus said it is back: no retry needed, and every subscription gets it.
    await publish(outage * 20 + (waiting === undefined ? 0 : 1), outage * 20 + 20);
    await subscriptions.received(outage * 20 + 20);
  }
  connection.steady();
}
