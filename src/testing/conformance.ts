// The delivery contract in executable form. Every driver, ours or a user's, runs these
// cases; a case a driver's capabilities do not claim is skipped with the reason. The cases
// live by theme in ./conformance/.

import { randomUUID } from 'node:crypto';
import * as nodeTest from 'node:test';
import { Bus } from '../core/bus.js';
import type { SubscribeOptions } from '../core/subscription.js';
import type { Capabilities } from '../core/driver.js';
import { skipReason, type CaseContext, type CaseDefinition, type ConformanceOptions, type DriverFactory, type TestRunner } from './conformance/case.js';
import { delayCases } from './conformance/delays.js';
import { deliveryCases } from './conformance/delivery.js';
import { failuresCases } from './conformance/failures.js';
import { groupsCases } from './conformance/groups.js';
import { lifecycleCases } from './conformance/lifecycle.js';
import { orderingCases } from './conformance/ordering.js';
import { persistenceCases } from './conformance/persistence.js';
import { redeliveryCases } from './conformance/redelivery.js';

export type { ConformanceOptions, DriverFactory, TestRunner };

const cases = [...failuresCases, ...deliveryCases, ...orderingCases, ...groupsCases, ...redeliveryCases, ...persistenceCases, ...delayCases, ...lifecycleCases];

/**
 * Runs the delivery contract against a driver. Cases its capabilities do not claim are
 * skipped, the reason naming the capability and what the case needs of it.
 *
 * It registers with `options.runner` (see there); the promise resolves once the suite is
 * registered, which under vitest without `globals: true` takes importing 'vitest': `await` it.
 */
export function runConformance(name: string, factory: DriverFactory, options: ConformanceOptions = {}): Promise<void> {
  const runner = options.runner ?? globalRunner();
  if (runner !== undefined) {
    register(runner, name, factory, options);
    return Promise.resolve();
  }
  // A variable specifier keeps vitest, a dev dependency, out of what TypeScript and bundlers resolve.
  const vitest = 'vitest';
  return (import(vitest) as Promise<TestRunner>).then((module) => register(module, name, factory, options));
}

/** The runner known without importing one: node:test, or vitest's globals. */
function globalRunner(): TestRunner | undefined {
  if (process.env.VITEST === undefined) return nodeTest;
  const scope = globalThis as Partial<TestRunner>;
  return scope.describe !== undefined && scope.it !== undefined ? (scope as TestRunner) : undefined;
}

/** Each case, with why a driver of these capabilities skips it (false: it runs). */
export function conformancePlan(capabilities: Capabilities, options: ConformanceOptions = {}): Array<{ definition: CaseDefinition; skip: string | false }> {
  return cases.map((definition) => {
    const given = definition.given === undefined || options[definition.given] !== undefined ? false : `no ${definition.given} driver was given (ConformanceOptions.${definition.given})`;
    return { definition, skip: skipReason(definition.needs ?? {}, capabilities) || given };
  });
}

function register({ describe, it }: TestRunner, name: string, factory: DriverFactory, options: ConformanceOptions): void {
  describe(`conformance: ${name}`, async () => {
    const probe = await factory();
    const capabilities = probe.capabilities;
    await probe.close();
    const run = randomUUID().slice(0, 8);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const ackDeadlineMs = options.ackDeadlineMs ?? 1_000;
    // A backstop for a hang, not a bound on a case (its waits have their own): generous,
    // since a case may wait up to timeoutMs several times, and vitest's own default is 5 s.
    const timeout = 5 * timeoutMs + 10 * ackDeadlineMs;
    for (const [index, { definition, skip }] of conformancePlan(capabilities, options).entries()) {
      const ns = `conf${run}c${index}`;
      it(definition.name, { timeout }, async (context) => {
        if (skip !== false) return context.skip(skip);
        const buses: Bus[] = [];
        const caseContext: CaseContext = {
          factory,
          options,
          ns,
          timeoutMs,
          ackDeadlineMs,
          capabilities,
          bus: async () => {
            const driver = await factory();
            const bus = new Bus({ drivers: { [driver.name]: driver } });
            buses.push(bus);
            return bus;
          },
        };
        try {
          await definition.run(caseContext);
        } finally {
          await Promise.all(buses.map((bus) => bus.close()));
        }
      });
    }
  });
}

export type { SubscribeOptions };
