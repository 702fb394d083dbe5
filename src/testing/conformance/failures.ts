// Failures a driver must report as the typed errors core defines: an unreachable broker,
// a refusal, and calls after close.

import assert from 'node:assert/strict';
import { Bus } from '../../core/bus.js';
import { ClosedError, ConnectionError, RefusedError } from '../../core/errors.js';
import { quiet, type CaseDefinition } from './case.js';

export const failuresCases: CaseDefinition[] = [
  {
    name: 'a broker that cannot be reached fails publish and subscribe with a retriable ConnectionError',
    given: 'unreachable',
    async run({ options, ns }) {
      const driver = await options.unreachable!();
      const b = new Bus({ drivers: { [driver.name]: driver }, logger: quiet });
      b.on('error', () => {});
      try {
        for (const attempt of [() => b.publish(`${ns}.down`, 1), () => b.subscribe(`${ns}.down`, () => {})]) {
          await assert.rejects(attempt(), (error) => {
            assert.ok(error instanceof ConnectionError, `got ${(error as Error).name}: ${(error as Error).message}`);
            assert.equal(error.retriable, true);
            return true;
          });
        }
      } finally {
        await b.close();
      }
    },
  },
  {
    name: 'a broker that refuses us fails publish with a RefusedError, not retriable',
    given: 'refused',
    async run({ options, ns }) {
      const driver = await options.refused!();
      const b = new Bus({ drivers: { [driver.name]: driver }, logger: quiet });
      b.on('error', () => {});
      try {
        await assert.rejects(b.publish(`${ns}.refused`, 1), (error) => {
          assert.ok(error instanceof RefusedError, `got ${(error as Error).name}: ${(error as Error).message}`);
          assert.equal(error.retriable, false);
          return true;
        });
      } finally {
        await b.close();
      }
    },
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
