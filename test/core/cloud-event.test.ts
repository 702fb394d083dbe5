import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromCloudEvent, toCloudEvent } from '../../src/core/cloud-event.js';
import { SerializationError } from '../../src/core/errors.js';

describe('CloudEvents', () => {
  it('round-trips a message through the structured form', () => {
    const message = {
      id: 'm-1',
      topic: 'orders.placed',
      data: { total: 3 },
      headers: { 'correlation-id': 'c-1', traceparent: '00-abc-def-01' },
      key: 'k',
      time: Date.parse('2026-01-02T03:04:05.000Z'),
      seq: '17',
    };
    const event = toCloudEvent(message, 'shop');
    assert.deepEqual(event, {
      specversion: '1.0',
      id: 'm-1',
      source: 'shop',
      type: 'orders.placed',
      time: '2026-01-02T03:04:05.000Z',
      datacontenttype: 'application/json',
      data: { total: 3 },
      partitionkey: 'k',
      sequence: '17',
      correlationid: 'c-1',
      traceparent: '00-abc-def-01',
    });
    assert.deepEqual(fromCloudEvent(JSON.parse(JSON.stringify(event))), message);
  });

  it('carries bytes as data_base64', () => {
    const bytes = new Uint8Array([0, 255, 7]);
    const event = toCloudEvent({ id: 'b', topic: 't', data: bytes });
    assert.equal(event.data_base64, 'AP8H');
    assert.deepEqual(fromCloudEvent(event).data, bytes);
  });

  it('refuses what is not a CloudEvent', () => {
    assert.throws(() => fromCloudEvent({ id: 'x', type: 't' }), SerializationError);
    assert.throws(() => fromCloudEvent('nope'), /specversion/);
  });
});
