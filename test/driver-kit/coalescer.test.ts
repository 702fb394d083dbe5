// The coalescer folds concurrent writes into few: calls of one burst go together, calls
// arriving while a write is in flight go in the next, in order, each settling with its write.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalescer } from '../../src/driver-kit/coalescer.js';

/** A write that records each batch and finishes when told to. */
function recording(maxItems = 1_000, inFlight = 1) {
  const batches: number[][] = [];
  const finishes: Array<(error?: Error) => void> = [];
  const coalescer = new Coalescer<number>(
    (items) =>
      new Promise<void>((resolve, reject) => {
        batches.push(items);
        finishes.push((error) => (error === undefined ? resolve() : reject(error)));
      }),
    { maxItems, inFlight },
  );
  return { coalescer, batches, finishes };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  it('writes the calls of one burst as one batch, not the first alone', async () => {
    const { coalescer, batches, finishes } = recording();
    const calls = Array.from({ length: 100 }, (_, n) => coalescer.add([n]));
    await nextTurn();
    assert.deepEqual(batches, [Array.from({ length: 100 }, (_, n) => n)]);
    finishes[0]();
    await Promise.all(calls);
  });

  it('gathers what arrives during a write into the next one, in order, within maxItems', async () => {
    const { coalescer, batches, finishes } = recording(3);
    const first = coalescer.add([1]);
    await nextTurn();
    const later = [coalescer.add([2]), coalescer.add([3, 4]), coalescer.add([5])];
    await nextTurn();
    assert.deepEqual(batches, [[1]], 'one write in flight at a time');
    finishes[0]();
    await first;
    await nextTurn();
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
    finishes[1]();
    await nextTurn();
    assert.deepEqual(batches, [[1], [2, 3, 4], [5]]);
    finishes[2]();
    await Promise.all(later);
    await coalescer.idle();
  });

  it('with inFlight, shares a burst between the free writes, in order, and fills a freed one at once', async () => {
    const { coalescer, batches, finishes } = recording(1_000, 2);
    const burst = Array.from({ length: 10 }, (_, n) => coalescer.add([n]));
    await nextTurn();
    assert.deepEqual(batches, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]);
    finishes[0]();
    const more = [coalescer.add([10]), coalescer.add([11])];
    await nextTurn();
    assert.deepEqual(batches.slice(2), [[10, 11]], 'one slot free: what waits goes in it whole');
    finishes[1]();
    finishes[2]();
    await Promise.all([...burst, ...more]);
    await coalescer.idle();
  });

  it("fails every call of a failed write, and goes on with the next", async () => {
    const { coalescer, batches, finishes } = recording();
    const failing = [coalescer.add([1]), coalescer.add([2])];
    await nextTurn();
    const after = coalescer.add([3]);
    finishes[0](new Error('refused'));
    for (const call of failing) await assert.rejects(call, /refused/);
    await nextTurn();
    assert.deepEqual(batches, [[1, 2], [3]]);
    finishes[1]();
    await after;
  });
});
