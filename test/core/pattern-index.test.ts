import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatternIndex } from '../../src/core/pattern-index.js';
import { matchesPattern } from '../../src/core/topic.js';

function randomPattern(random: () => number): string {
  const depth = 1 + Math.floor(random() * 4);
  const tokens: string[] = [];
  for (let i = 0; i < depth; i++) {
    const r = random();
    if (i === depth - 1 && r < 0.15) tokens.push('>');
    else if (r < 0.35) tokens.push('*');
    else tokens.push(`t${Math.floor(random() * 5)}`);
  }
  return tokens.join('.');
}

function seeded(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('pattern index', () => {
  it('finds exactly the patterns a brute-force matcher finds, with 10,000 patterns', () => {
    const random = seeded(7);
    const index = new PatternIndex<number>();
    const patterns: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const pattern = randomPattern(random);
      patterns.push(pattern);
      index.add(pattern, i);
    }
    assert.equal(index.size, 10_000);
    for (let i = 0; i < 300; i++) {
      const topic = randomPattern(random).replace(/\*|>/g, 't1');
      const expected = patterns.flatMap((p, n) => (matchesPattern(p, topic) ? [n] : [])).sort((a, b) => a - b);
      assert.deepEqual([...index.match(topic)].sort((a, b) => a - b), expected, topic);
    }
  });

  it('forgets deleted patterns, including from its lookup cache', () => {
    const index = new PatternIndex<string>();
    index.add('a.*', 'x');
    index.add('a.>', 'y');
    assert.deepEqual(index.match('a.b').sort(), ['x', 'y']);
    assert.equal(index.delete('a.*', 'x'), true);
    assert.deepEqual(index.match('a.b'), ['y']);
    assert.equal(index.delete('a.*', 'x'), false);
    index.delete('a.>', 'y');
    assert.deepEqual(index.match('a.b'), []);
    assert.equal(index.size, 0);
  });

  it('returns a value registered under two matching patterns once', () => {
    const index = new PatternIndex<string>();
    index.add('a.*', 'x');
    index.add('a.b', 'x');
    assert.deepEqual(index.match('a.b'), ['x']);
  });
});
