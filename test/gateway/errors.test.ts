// The error table both sides share: every core error the gateway reports travels as its wire
// code, and the client turns that code back into the same class with the same code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  InvalidPositionError,
  InvalidTopicError,
  NoRouteError,
  OmnibusError,
  PayloadTooLargeError,
  PublishError,
  SerializationError,
  ValidationError,
} from '../../src/core/errors.js';
import { describeError } from '../../src/gateway/publishing.js';
import { coreError, httpStatus } from '../../src/protocol/errors.js';
import { RawSocket, startGateway } from '../support/gateway.js';

describe('error codes', () => {
  it('gives each core error a wire code the client raises as the same class and code', () => {
    const cases: Array<[OmnibusError, string]> = [
      [new InvalidTopicError("topic 'a..b' has an empty token at position 2", undefined, { topic: 'a..b' }), 'INVALID_TOPIC'],
      [new InvalidPositionError('from: { seq: "x" } is not a memory seq', { topic: 'a.b' }), 'INVALID_POSITION'],
      [new ValidationError("payload for 'a.b' is invalid: n: expected number", [{ message: 'expected number' }], { topic: 'a.b' }), 'VALIDATION_FAILED'],
      [new SerializationError('cannot encode', { topic: 'a.b' }), 'SERIALIZATION_FAILED'],
      [new NoRouteError("no route takes 'a.b'", { topic: 'a.b' }), 'NO_ROUTE'],
      [new PayloadTooLargeError(2_000, 1_000, { topic: 'a.b' }), 'PAYLOAD_TOO_LARGE'],
      [new PublishError('the broker refused it', { topic: 'a.b', retriable: false }), 'PUBLISH_FAILED'],
      [new ConfigurationError("driver 'x' has no consumer groups", { topic: 'a.b' }), 'UNSUPPORTED'],
    ];
    for (const [error, wire] of cases) {
      const described = describeError(error, 'INTERNAL');
      assert.equal(described.code, wire, error.name);
      const raised = coreError({ type: 'error', id: '1', ...described });
      assert.ok(raised instanceof error.constructor, `${wire} raises ${raised?.name}, not ${error.name}`);
      assert.equal(raised.code, error.code);
      assert.equal(raised.topic, error.topic);
      assert.equal(raised.retriable, error.retriable);
    }
    const tooLarge = coreError({ type: 'error', ...describeError(new PayloadTooLargeError(2_000, 1_000), 'INTERNAL') }) as PayloadTooLargeError;
    assert.deepEqual([tooLarge.bytes, tooLarge.maxBytes], [2_000, 1_000]);
  });

  it("keeps the request's own code for core errors the protocol has none for, and the gateway's codes for the gateway", () => {
    assert.equal(describeError(new ConnectionError('broker down'), 'PUBLISH_FAILED').code, 'PUBLISH_FAILED');
    assert.equal(describeError(new ConnectionError('broker down'), 'SUBSCRIBE_FAILED').code, 'SUBSCRIBE_FAILED');
    assert.equal(describeError(new ClosedError('bus closed'), 'PUBLISH_FAILED').code, 'SHUTTING_DOWN');
    for (const code of ['SHUTTING_DOWN', 'TOO_LARGE', 'FORBIDDEN', 'SUBSCRIBE_FAILED', 'INTERNAL'] as const) {
      assert.equal(coreError({ type: 'error', code, message: 'no' }), undefined, code);
    }
  });

  it('answers HTTP with the status of the code', () => {
    assert.deepEqual(
      (['BAD_FRAME', 'UNAUTHORIZED', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'TOO_LARGE', 'RATE_LIMITED', 'UNSUPPORTED', 'PUBLISH_FAILED', 'SHUTTING_DOWN', 'INTERNAL'] as const).map(httpStatus),
      [400, 401, 403, 413, 413, 429, 501, 502, 503, 500],
    );
  });

  it("names the topic of a payload over the gateway's limit as a tenant's client named it", async () => {
    const running = await startGateway({ auth: { apiKeys: [{ key: 'k1', tenant: 'acme' }] }, limits: { maxMessageBytes: 100 } });
    try {
      const socket = await RawSocket.open(running.url, { authorization: 'Bearer k1' });
      const refused = await socket.request({ type: 'publish', topic: 'game.big', data: 'x'.repeat(200) });
      assert.deepEqual([refused.code, refused.topic], ['PAYLOAD_TOO_LARGE', 'game.big']);
      socket.close();
    } finally {
      await running.close();
    }
  });
});
