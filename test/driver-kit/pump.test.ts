// The wake loop never loses a wake-up: one that arrives at any moment, even as a loop is
// ending, gets a pass that starts after it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pump } from '../../src/driver-kit/pump.js';

class Counting extends Pump {
  passes = 0;
  protected async pass(): Promise<boolean> {
    this.passes++;
    return false;
  }
}

const microtasks = async (count: number) => {
  for (let i = 0; i < count; i++) await Promise.resolve();
};
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('Pump', () => {
  it('runs a pass after every wake-up, whichever microtask of a running loop it lands in', async () => {
    for (let delay = 0; delay < 12; delay++) {
      const pump = new Counting(() => {});
      pump.wake();
      await microtasks(delay);
      const before = pump.passes;
      pump.wake();
      await nextTurn();
      assert.ok(pump.passes > before, `a wake-up ${delay} microtasks into the loop got no pass`);
      await pump.stop();
    }
  });

  it('backs off after a failed pass and reports it', async () => {
    const reported: unknown[] = [];
    let calls = 0;
    class Failing extends Pump {
      protected async pass(): Promise<boolean> {
        calls++;
        if (calls === 1) throw new Error('broker away');
        return false;
      }
    }
    const pump = new Failing((error) => reported.push(error), { initialMs: 1, maxMs: 1 });
    pump.wake();
    while (calls < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(reported.length, 1);
    assert.match(String(reported[0]), /broker away/);
    await pump.stop();
  });
});
