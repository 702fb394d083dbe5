import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { eventually, sleep } from '../../src/testing/wait.js';

describe('closing', () => {
  it('gives up on a handler that never finishes once closeTimeoutMs has passed', async () => {
    const bus = createBus({ closeTimeoutMs: 50 });
    let started = false;
    await bus.subscribe('close.stuck', () => {
      started = true;
      return new Promise(() => {});
    });
    await bus.publish('close.stuck', 1);
    await eventually(() => started, 'the handler to start');
    const began = Date.now();
    await bus.close();
    const took = Date.now() - began;
    assert.ok(took >= 45 && took < 1_000, `close took ${took} ms`);
  });

  it('closing a subscription returns its unstarted messages to the group', async () => {
    const bus = createBus();
    const seen: Array<[string, number]> = [];
    const leaving = await bus.subscribe('close.group', async (message) => {
      seen.push(['leaving', message.data as number]);
      await sleep(20);
    }, { group: 'g', bufferSize: 100 });
    for (let n = 0; n < 10; n++) await bus.publish('close.group', n);
    await bus.subscribe('close.group', (message) => void seen.push(['staying', message.data as number]), { group: 'g' });
    await leaving.close();
    await eventually(() => new Set(seen.map(([, n]) => n)).size === 10, 'all ten handled');
    assert.ok(seen.some(([who]) => who === 'staying'), 'the remaining member took over');
    await bus.close();
  });

  it('close() is idempotent and stream iteration ends when its subscription closes', async () => {
    const bus = createBus();
    const stream = bus.stream('close.stream');
    await stream.started();
    const ended = (async () => {
      for await (const message of stream) await message.ack();
      return 'ended';
    })();
    await Promise.all([bus.close(), bus.close()]);
    assert.equal(await ended, 'ended');
  });
});
