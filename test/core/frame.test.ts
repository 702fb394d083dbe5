import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import * as v from 'valibot';
import { ValidationError } from '../../src/core/errors.js';
import { defineEvent } from '../../src/core/event.js';
import { createBus } from '../../src/create-bus.js';
import { eventually } from '../../src/testing/wait.js';

const LevelUp = defineEvent('game.player.level-up', z.object({ player: z.string(), level: z.number().int() }));
const Damage = defineEvent('game.player.damage', v.object({ player: v.string(), amount: v.number() }));

describe('per-frame reader and writer', () => {
  it('reader.read() returns everything since the last read, subscribing on first use', async () => {
    const bus = createBus();
    const reader = bus.reader(LevelUp);
    assert.deepEqual(reader.read(), []);
    await reader.ready();
    await bus.publish(LevelUp, { player: 'ada', level: 2 });
    await bus.publish(LevelUp, { player: 'bob', level: 3 });
    await eventually(() => bus.stats().acked === 2, 'both received');
    const frame = reader.read();
    assert.deepEqual(frame.map((m) => m.data.player), ['ada', 'bob']);
    assert.deepEqual(reader.read(), []);
    await bus.close();
  });

  it('a stalled reader drops and counts overflow instead of blocking publishers', async () => {
    const bus = createBus();
    const reader = bus.reader('ticks', { capacity: 5 });
    reader.read();
    await reader.ready();
    for (let n = 0; n < 2_000; n++) await bus.publish('ticks', n);
    // Nothing blocked: all 2,000 publishes resolved. What the reader holds and the
    // subscription buffers is read; the rest was dropped and counted.
    let kept = 0;
    await eventually(() => {
      kept += reader.read().length;
      return kept + bus.stats().dropped === 2_000;
    }, 'every message read or counted as dropped');
    assert.ok(bus.stats().dropped > 0);
    await bus.close();
  });

  it('writer.write() validates synchronously and returns a result instead of throwing', async () => {
    const bus = createBus();
    const received: unknown[] = [];
    await bus.subscribe(Damage, (message) => void received.push(message.data));
    const writer = bus.writer(Damage);
    const good = writer.write({ player: 'ada', amount: 5 });
    assert.equal(good.ok, true);
    const bad = writer.write({ player: 'ada', amount: 'lots' } as never);
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.error instanceof ValidationError);
    assert.match(!bad.ok ? bad.error.message : '', /amount/);
    await eventually(() => received.length === 1, 'the valid write');
    assert.deepEqual(received, [{ player: 'ada', amount: 5 }]);
    await bus.close();
  });

  it('publish validates with zod and valibot alike', async () => {
    const bus = createBus();
    await assert.rejects(bus.publish(LevelUp, { player: 'x', level: 1.5 }), ValidationError);
    await assert.rejects(bus.publish(Damage, { player: 1 } as never), (error: ValidationError) => {
      assert.ok(error.issues.length > 0);
      assert.equal(error.topic, 'game.player.damage');
      return true;
    });
    await bus.close();
  });
});
