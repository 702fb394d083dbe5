// The delivery contract in executable form. Every driver, ours or a user's, runs these
// cases; a case a driver's capabilities do not claim is skipped with the reason. The cases
// live by theme in ./conformance/.

import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Bus } from '../core/bus.js';
import type { SubscribeOptions } from '../core/subscription.js';
import { skipReason, type CaseContext, type ConformanceOptions, type DriverFactory } from './conformance/case.js';
import { delayCases } from './conformance/delays.js';
import { deliveryCases } from './conformance/delivery.js';
import { failuresCases } from './conformance/failures.js';
import { groupsCases } from './conformance/groups.js';
import { lifecycleCases } from './conformance/lifecycle.js';
import { orderingCases } from './conformance/ordering.js';
import { persistenceCases } from './conformance/persistence.js';
import { redeliveryCases } from './conformance/redelivery.js';

export type { ConformanceOptions, DriverFactory };

const cases = [...failuresCases, ...deliveryCases, ...orderingCases, ...groupsCases, ...redeliveryCases, ...persistenceCases, ...delayCases, ...lifecycleCases];

/**
 * Runs the delivery contract against a driver. Cases its capabilities do not claim are
 * skipped, the reason naming the capability and what the case needs of it.
 */
export function runConformance(name: string, factory: DriverFactory, options: ConformanceOptions = {}): void {
  describe(`conformance: ${name}`, async () => {
    const probe = await factory();
    const capabilities = probe.capabilities;
    await probe.close();
    const run = randomUUID().slice(0, 8);
    let index = 0;
    for (const definition of cases) {
      const given = definition.given === undefined || options[definition.given] !== undefined ? false : `no ${definition.given} driver was given (ConformanceOptions.${definition.given})`;
      const skip = skipReason(definition.needs ?? {}, capabilities) || given;
      it(definition.name, { skip }, async () => {
        const buses: Bus[] = [];
        const context: CaseContext = {
          factory,
          options,
          ns: `conf${run}c${index++}`,
          timeoutMs: options.timeoutMs ?? 10_000,
          ackDeadlineMs: options.ackDeadlineMs ?? 1_000,
          capabilities,
          bus: async () => {
            const driver = await factory();
            const bus = new Bus({ drivers: { [driver.name]: driver } });
            buses.push(bus);
            return bus;
          },
        };
        try {
          await definition.run(context);
        } finally {
          await Promise.all(buses.map((bus) => bus.close()));
        }
      });
    }
  });
}

export type { SubscribeOptions };
