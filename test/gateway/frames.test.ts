// The gateway's message frames: a message fanned out to many subscriptions is encoded once,
// and only what is truly the same message reuses that encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/core/message.js';
import { messageFrame, messageFramePrefix } from '../../src/gateway/frames.js';

function message(fields: Partial<Message>): Message {
  const settle = async () => {};
  return { id: 'order-1', topic: 'orders', data: null, headers: {}, key: undefined, time: 1_700_000_000_000, ttlMs: undefined, seq: '1700000000000-0', attempt: 1, ack: settle, nack: settle, inProgress: settle, reject: settle, ...fields } as Message;
}

const frame = (message: Message, topic: string) => JSON.parse(messageFrame(messageFramePrefix('s'), 1, message, topic));

describe('gateway message frames', () => {
  it('gives each tenant its own message when their ids, seqs and names for the topic coincide', () => {
    // Two streams, one per tenant, each with its first entry in the same millisecond.
    const acme = frame(message({ topic: 'acme.orders', data: 'acme only' }), 'orders');
    const globex = frame(message({ topic: 'globex.orders', data: 'globex only' }), 'orders');
    assert.equal(acme.data, 'acme only');
    assert.equal(globex.data, 'globex only');
  });

  it('without a seq, takes only the same payload for the same message', () => {
    const first = frame(message({ seq: undefined, data: { n: 1 } }), 'orders');
    const second = frame(message({ seq: undefined, data: { n: 2 } }), 'orders');
    assert.deepEqual([first.data, second.data], [{ n: 1 }, { n: 2 }]);
  });

  it('encodes a fanned-out message the same for every subscription, but for its own subscription id and delivery', () => {
    const data = { total: 42 };
    const one = JSON.parse(messageFrame(messageFramePrefix('a'), 7, message({ data }), 'orders'));
    const two = JSON.parse(messageFrame(messageFramePrefix('b'), 9, message({ data }), 'orders'));
    assert.deepEqual({ ...one, subscription: 'b', delivery: 9 }, two);
    assert.deepEqual([one.subscription, one.delivery, two.subscription, two.delivery], ['a', 7, 'b', 9]);
  });
});
