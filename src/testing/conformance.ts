// The delivery contract in executable form. Every driver, ours or a user's, runs these
// cases; a case a driver's capabilities do not claim is skipped with the reason. The cases
// live by theme in ./conformance/.

import { randomUUID } from 'node:crypto';
import * as nodeTest from 'node:test';
import { Bus } from '../core/bus.js';
import type { SubscribeOptions } from '../core/subscription.js';
import { skipReason, type CaseContext, type ConformanceOptions, type DriverFactory } from './conformance/case.js';
import { deliveryCases } from './conformance/delivery.js';
import { failuresCases } from './conformance/failures.js';
import { groupsCases } from './conformance/groups.js';
import { lifecycleCases } from './conformance/lifecycle.js';
import { orderingCases } from './conformance/ordering.js';
import { persistenceCases } from './conformance/persistence.js';
import { redeliveryCases } from './conformance/redelivery.js';

export type { ConformanceOptions, DriverFactory };

/**
 * The test functions the suite registers its cases with: node:test's and vitest's both fit.
 * A skipped case calls `context.skip(reason)`, which both runners report with the reason.
 */
export interface TestRunner {
  describe(name: string, body: () => Promise<void>): unknown;
  it(name: string, options: { timeout?: number }, body: (context: { skip(reason?: string): void }) => Promise<void>): unknown;
}

const cases = [...failuresCases, ...deliveryCases, ...orderingCases, ...groupsCases, ...redeliveryCases, ...persistenceCases, ...lifecycleCases];

/**
 * Runs the delivery contract against a driver. Cases its capabilities do not claim are
 * skipped, the reason naming the capability and what the case needs of it.
 *
 * It registers with `options.runner` when given; otherwise with vitest's globals or, without
 * `globals: true`, the 'vitest' module when run by vitest (then `await` the call); otherwise
 * with node:test. The promise resolves once the suite is registered.
 */
export function runConformance(name: string, factory: DriverFactory, options: ConformanceOptions & { runner?: TestRunner } = {}): Promise<void> {
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

function register({ describe, it }: TestRunner, name: string, factory: DriverFactory, options: ConformanceOptions): void {
  describe(`conformance: ${name}`, async () => {
    const probe = await factory();
    const capabilities = probe.capabilities;
    await probe.close();
    const run = randomUUID().slice(0, 8);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const ackDeadlineMs = options.ackDeadlineMs ?? 1_000;
    // Generous: a case waits up to timeoutMs more than once, and vitest's own default is 5 s.
    const timeout = 3 * timeoutMs + 10 * ackDeadlineMs;
    let index = 0;
    for (const definition of cases) {
      const given = definition.given === undefined || options[definition.given] !== undefined ? false : `no ${definition.given} driver was given (ConformanceOptions.${definition.given})`;
      const skip = skipReason(definition.needs ?? {}, capabilities) || given;
      const ns = `conf${run}c${index++}`;
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
