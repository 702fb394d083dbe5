import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { eventually, sleep } from '../../src/testing/wait.js';

// A handler that holds every message until released, so buffers fill deterministically.
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('backpressure', () => {
  it("'block' makes the publisher wait for room in a full buffer", async () => {
    const bus = createBus();
    const { opened, open } = gate();
    const handled: number[] = [];
    await bus.subscribe('bp.block', async (message) => {
      await opened;
      handled.push(message.data as number);
    }, { bufferSize: 2 });
    // One running, two buffered; the fourth publish must wait.
    for (let n = 0; n < 3; n++) await bus.publish('bp.block', n);
    let fourthDone = false;
    const fourth = bus.publish('bp.block', 3).then(() => (fourthDone = true));
    await sleep(50);
    assert.equal(fourthDone, false, 'the publisher is blocked');
    open();
    await fourth;
    await eventually(() => handled.length === 4, 'all four handled');
    assert.deepEqual(handled, [0, 1, 2, 3]);
    assert.equal(bus.stats().dropped, 0);
    await bus.close();
  });

  it("'drop' never blocks the publisher and counts what it dropped", async () => {
    const bus = createBus();
    const { opened, open } = gate();
    const handled: number[] = [];
    await bus.subscribe('bp.drop', async (message) => {
      await opened;
      handled.push(message.data as number);
    }, { bufferSize: 2, deliveryMode: 'drop' });
    for (let n = 0; n < 10; n++) await bus.publish('bp.drop', n);
    open();
    await eventually(() => handled.length === 3, 'the kept messages');
    await sleep(20);
    assert.deepEqual(handled, [0, 1, 2]);
    assert.equal(bus.stats().dropped, 7);
    assert.equal(bus.stats().byPattern['bp.drop'].dropped, 7);
    await bus.close();
  });

  it("'timeout' blocks up to timeoutMs, then drops and counts", async () => {
    const bus = createBus();
    const { opened, open } = gate();
    await bus.subscribe('bp.timeout', () => opened, { bufferSize: 1, deliveryMode: 'timeout', timeoutMs: 30 });
    await bus.publish('bp.timeout', 0);
    await bus.publish('bp.timeout', 1);
    const started = Date.now();
    await bus.publish('bp.timeout', 2);
    assert.ok(Date.now() - started >= 25, 'waited for room');
    assert.equal(bus.stats().dropped, 1);
    open();
    await bus.close();
  });

  it('runs up to `concurrency` handlers at once', async () => {
    const bus = createBus();
    let running = 0;
    let peak = 0;
    await bus.subscribe('bp.concurrent', async () => {
      peak = Math.max(peak, ++running);
      await sleep(20);
      running--;
    }, { concurrency: 4 });
    for (let n = 0; n < 12; n++) await bus.publish('bp.concurrent', n);
    await eventually(() => bus.stats().acked === 12, 'all acked');
    assert.equal(peak, 4);
    await bus.close();
  });
});
