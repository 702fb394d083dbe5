// What a conformance case is: what it needs of a driver, what it is given, and how it is
// skipped when the driver does not claim what it needs.

import type { Bus } from '../../core/bus.js';
import { orderingCovers } from '../../core/capabilities.js';
import type { Capabilities, Driver } from '../../core/driver.js';
import type { Message } from '../../core/message.js';

export interface ConformanceOptions {
  /**
   * What registers the cases: vitest's `{ describe, it }`, say. Default: vitest's globals or
   * the 'vitest' module when vitest runs the file, otherwise node:test.
   */
  runner?: TestRunner;
  /** How long a case waits for deliveries. Default 10 s. */
  timeoutMs?: number;
  /** The ack deadline used by the deadline cases. Default 1,000 ms. */
  ackDeadlineMs?: number;
  /** A driver of this kind pointed where nothing listens, for the connection-failure case. Default: none (skipped). */
  unreachable?: DriverFactory;
  /** A driver of this kind the broker refuses (bad credentials, a missing database), for the refusal case. Default: none (skipped). */
  refused?: DriverFactory;
}

/**
 * The test functions the suite registers its cases with: node:test's and vitest's both fit.
 * A skipped case calls `context.skip(reason)`, which both runners report with the reason.
 */
export interface TestRunner {
  describe(name: string, body: () => Promise<void>): unknown;
  it(name: string, options: { timeout?: number }, body: (context: { skip(reason?: string): void }) => Promise<void>): unknown;
}

/** Keeps the failure cases' expected errors off the console. */
export const quiet = { error() {}, warn() {}, info() {}, debug() {} };

/** A fresh driver on the same backend each call, so persistence cases can close and reopen. */
export type DriverFactory = () => Driver | Promise<Driver>;

export type Case = (context: CaseContext) => Promise<void>;

export interface CaseContext {
  factory: DriverFactory;
  options: ConformanceOptions;
  /** A bus over a fresh driver; closed after the case. */
  bus(): Promise<Bus>;
  /** A topic prefix no other case or run uses. */
  ns: string;
  timeoutMs: number;
  ackDeadlineMs: number;
  capabilities: Capabilities;
}

/** The capabilities that are flags (optional ones included): a case needs them claimed. */
type Flag = { [K in keyof Capabilities]-?: NonNullable<Capabilities[K]> extends boolean ? K : never }[keyof Capabilities];

/**
 * What a case needs of a driver: flags it must claim; the order it must promise at least
 * ('key' is met by 'key' or 'global'); a payload limit, to test the limit itself.
 */
type Needs = { [K in Flag]?: true } & { ordering?: 'key' | 'global'; maxPayloadBytes?: 'finite'; dedupeWindowMs?: 'short' };

/** The longest dedupe window a case waits out; a driver given a longer one skips it. */
export const SHORT_DEDUPE_WINDOW_MS = 5_000;

export interface CaseDefinition {
  name: string;
  needs?: Needs;
  /** A failing driver the case needs from the options. */
  given?: 'unreachable' | 'refused';
  run: Case;
}

/** Why a driver with these capabilities cannot run a case, in words; false when it can. */
export function skipReason(needs: Needs, capabilities: Capabilities): string | false {
  const reasons: string[] = [];
  const flags = (Object.keys(needs) as Array<keyof Needs>).filter((name) => needs[name] === true) as Flag[];
  const missing = flags.filter((flag) => !capabilities[flag]);
  if (missing.length > 0) reasons.push(`does not claim ${missing.join(', ')}`);
  if (needs.ordering !== undefined && !orderingCovers(capabilities.ordering, needs.ordering)) {
    const accepted = needs.ordering === 'key' ? "'key' or 'global'" : `'${needs.ordering}'`;
    reasons.push(`promises ordering '${capabilities.ordering}' where the case needs ${accepted}`);
  }
  if (needs.maxPayloadBytes === 'finite' && !Number.isFinite(capabilities.maxPayloadBytes)) {
    reasons.push('declares no payload limit to test');
  }
  if (needs.dedupeWindowMs === 'short' && capabilities.dedupe && !((capabilities.dedupeWindowMs ?? Infinity) <= SHORT_DEDUPE_WINDOW_MS)) {
    reasons.push(`remembers ids for ${capabilities.dedupeWindowMs === undefined ? 'no stated time' : `${capabilities.dedupeWindowMs} ms`}, more than the ${SHORT_DEDUPE_WINDOW_MS} ms the case waits (give it a shorter dedupeWindowMs to run it)`);
  }
  return reasons.length > 0 ? `the driver ${reasons.join(' and ')}` : false;
}

export function collector<T = unknown>() {
  const messages: Message<T>[] = [];
  return { messages, handler: (message: Message<T>) => void messages.push(message) };
}
