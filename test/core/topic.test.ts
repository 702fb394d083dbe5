import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTopicError } from '../../src/core/errors.js';
import { assertPattern, assertTopic, matchesPattern, patternsOverlap } from '../../src/core/topic.js';

describe('topic grammar', () => {
  it('accepts tokens of letters, digits, _, - and :', () => {
    for (const topic of ['a', 'game.player.level-up', 'tenant:42.orders_v2.placed', 'A.B.C']) assertTopic(topic);
  });

  it('refuses bad topics naming the token and its position', () => {
    const cases: Array<[string, RegExp, string | undefined]> = [
      ['', /is empty/, ''],
      ['a..b', /empty token at position 2/, ''],
      ['a.', /empty token at position 2/, ''],
      ['a.b c', /invalid token 'b c' at position 2/, 'b c'],
      ['a.*', /wildcard '\*' at position 2/, '*'],
      ['orders.>', /wildcard '>'/, '>'],
      ['a/b', /invalid token 'a\/b'/, 'a/b'],
    ];
    for (const [topic, message, token] of cases) {
      assert.throws(() => assertTopic(topic), (error: InvalidTopicError) => {
        assert.ok(error instanceof InvalidTopicError, topic);
        assert.equal(error.code, 'INVALID_TOPIC');
        assert.match(error.message, message);
        assert.equal(error.token, token);
        return true;
      });
    }
    assert.throws(() => assertTopic(42 as unknown as string), /must be a string/);
  });

  it("refuses '>' anywhere but last in a pattern", () => {
    assertPattern('a.>');
    assertPattern('*.b.*');
    assertPattern('>');
    assert.throws(() => assertPattern('a.>.b'), /'>' may only be the last token/);
    assert.throws(() => assertPattern('a.b*'), /invalid token 'b\*'/);
  });

  it('matches * as one token and > as one or more', () => {
    const table: Array<[string, string, boolean]> = [
      ['a.b', 'a.b', true],
      ['a.b', 'a.b.c', false],
      ['a.*', 'a.b', true],
      ['a.*', 'a', false],
      ['a.*', 'a.b.c', false],
      ['*.b', 'a.b', true],
      ['a.>', 'a', false],
      ['a.>', 'a.b', true],
      ['a.>', 'a.b.c.d', true],
      ['>', 'a', true],
      ['>', 'a.b', true],
      ['*', 'a', true],
      ['*', 'a.b', false],
      ['*.*.>', 'a.b', false],
      ['*.*.>', 'a.b.c', true],
    ];
    for (const [pattern, topic, expected] of table) {
      assert.equal(matchesPattern(pattern, topic), expected, `${pattern} vs ${topic}`);
    }
  });

  it('tells whether two patterns can match a common topic', () => {
    const table: Array<[string, string, boolean]> = [
      ['game.>', '>', true],
      ['game.>', 'orders.*', false],
      ['game.>', 'game', false],
      ['game.>', 'game.*', true],
      ['a.*.c', 'a.b.*', true],
      ['a.*', 'a.*.c', false],
      ['a.b', 'a.b', true],
      ['a.b', 'a.c', false],
      ['*', '>', true],
    ];
    for (const [a, b, expected] of table) {
      assert.equal(patternsOverlap(a, b), expected, `${a} ~ ${b}`);
      assert.equal(patternsOverlap(b, a), expected, `${b} ~ ${a}`);
    }
  });
});
