// Failures a driver must report as the typed errors core defines: an unreachable broker,
// a refusal, and calls after close.

import assert from 'node:assert/strict';
import { Bus } from '../../core/bus.js';
import { ClosedError, ConnectionError, RefusedError } from '../../core/errors.js';
import { quiet, type CaseDefinition, type DriverFactory } from './case.js';

/** Runs `attempts` on a bus over the failing driver `make` gives, expecting each to fail with `expected`. */
async function failsWith(make: DriverFactory, expected: typeof ConnectionError | typeof RefusedError, attempts: Array<(bus: Bus) => Promise<unknown>>): Promise<void> {
  const driver = await make();
  const b = new Bus({ drivers: { [driver.name]: driver }, logger: quiet });
  b.on('error', () => {});
  try {
    for (const attempt of attempts) {
      await assert.rejects(attempt(b), (error) => {
        assert.ok(error instanceof expected, `got ${(error as Error).name}: ${(error as Error).message}`);
        assert.equal(error.retriable, expected === ConnectionError);
        return true;
      });
    }
  } finally {
    await b.close();
  }
}

export const failuresCases: CaseDefinition[] = [
  {
    name: 'a broker that cannot be reached fails publish and subscribe with a retriable ConnectionError',
    given: 'unreachable',
    run: ({ options, ns }) => failsWith(options.unreachable!, ConnectionError, [(b) => b.publish(`${ns}.down`, 1), (b) => b.subscribe(`${ns}.down`, () => {})]),
  },
  {
    name: 'a broker that refuses us fails publish with a RefusedError, not retriable',
    given: 'refused',
    run: ({ options, ns }) => failsWith(options.refused!, RefusedError, [(b) => b.publish(`${ns}.refused`, 1)]),
  },
  {
    name: 'rejects publish and subscribe after close with ClosedError',
    async run({ bus, ns }) {
      const b = await bus();
      await b.close();
      await assert.rejects(b.publish(`${ns}.closed`, 1), ClosedError);
      await assert.rejects(b.subscribe(`${ns}.closed`, () => {}), ClosedError);
      await b.close();
    },
  },
];
