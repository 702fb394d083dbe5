import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DueTimer } from '../../src/driver-kit/due-timer.js';
import { eventually } from '../../src/testing/wait.js';

describe('DueTimer', () => {
  it('fires once at the earliest due time it was given, never before it', async () => {
    const fired: number[] = [];
    const timer = new DueTimer(() => void fired.push(Date.now()), false);
    const soon = Date.now() + 80;
    timer.expect(soon + 500);
    timer.expect(soon);
    timer.expect(soon + 200); // later than the one set: ignored
    await eventually(() => fired.length === 1, 'the first due time');
    assert.ok(fired[0] >= soon, `fired ${soon - fired[0]} ms early`);
    timer.cancel();
  });

  it('waits in steps for a due time beyond what setTimeout can wait, instead of firing at once', async () => {
    let fired = 0;
    const warnings: string[] = [];
    const warned = (warning: Error) => void warnings.push(warning.name);
    process.on('warning', warned);
    const timer = new DueTimer(() => void fired++, false);
    timer.expect(Date.now() + 40 * 24 * 3_600_000);
    const start = Date.now();
    // An overflowing setTimeout runs after 1 ms, with a TimeoutOverflowWarning: both would show by now.
    await eventually(() => Date.now() - start > 50, 'a few turns of the event loop');
    process.off('warning', warned);
    timer.cancel();
    assert.equal(fired, 0);
    assert.deepEqual(warnings.filter((name) => name === 'TimeoutOverflowWarning'), []);
  });
});
