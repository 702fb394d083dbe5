import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedMemo } from '../../src/driver-kit/memo.js';

describe('boundedMemo', () => {
  it('computes a value once per key, and starts over past its limit', () => {
    const computed: string[] = [];
    const upper = boundedMemo(2, (key) => (computed.push(key), key.toUpperCase()));
    assert.equal(upper('a'), 'A');
    assert.equal(upper('a'), 'A');
    assert.equal(upper('b'), 'B');
    assert.deepEqual(computed, ['a', 'b']);
    // A third key: the two remembered are forgotten, so memory stays bounded.
    assert.equal(upper('c'), 'C');
    assert.equal(upper('a'), 'A');
    assert.deepEqual(computed, ['a', 'b', 'c', 'a']);
  });
});
