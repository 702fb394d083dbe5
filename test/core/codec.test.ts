import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Codec } from '../../src/core/codec.js';
import { createBus } from '../../src/create-bus.js';
import { memory } from '../../src/drivers/memory/index.js';
import { eventually } from '../../src/testing/wait.js';

describe('codecs', () => {
  it('encodes with the bus codec and marks the content type', async () => {
    const upper: Codec = {
      contentType: 'text/x-upper',
      encode: (data) => new TextEncoder().encode(String(data).toUpperCase()),
      decode: (body) => new TextDecoder().decode(body),
    };
    const bus = createBus({ driver: memory({ roundTrip: true }), codec: upper });
    const seen: Array<[unknown, string | undefined]> = [];
    await bus.subscribe('codec.text', (message) => void seen.push([message.data, message.headers['content-type']]));
    await bus.publish('codec.text', 'hello');
    await bus.publish('codec.text', new Uint8Array([1, 2]));
    await eventually(() => seen.length === 2, 'both messages');
    assert.deepEqual(seen[0], ['HELLO', 'text/x-upper']);
    assert.deepEqual(seen[1], [new Uint8Array([1, 2]), 'application/octet-stream']);
    await bus.close();
  });

  it('dead-letters a body that cannot be decoded instead of calling the handler', async () => {
    const bus = createBus({ driver: memory({ roundTrip: true }) });
    const failures: unknown[] = [];
    bus.on('deliveryFailed', (event) => failures.push(event.error));
    let called = false;
    await bus.subscribe('codec.broken', () => void (called = true));
    // A JSON content type over bytes that are not JSON, as a foreign publisher might send.
    await bus.drivers[0].driver.publish([
      { id: 'x', topic: 'codec.broken', headers: { 'content-type': 'application/json' }, time: Date.now(), body: new Uint8Array([123, 0]) },
    ]);
    await eventually(() => failures.length === 1, 'the failure');
    assert.equal(called, false);
    assert.equal((failures[0] as Error).name, 'SerializationError');
    await bus.close();
  });
});
