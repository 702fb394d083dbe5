// The topic grammar: tokens joined by '.', each of letters, digits, '_', '-', ':'.
// Patterns add NATS wildcards: '*' is exactly one token, '>' one or more and only last.

import { InvalidTopicError } from './errors.js';

const TOKEN = /^[A-Za-z0-9_\-:]+$/;

// Publishers repeat a small set of topics; remembering the valid ones keeps the check off
// the hot path. Bounded so a stream of unique topics cannot grow memory without limit.
const KNOWN_LIMIT = 10_000;
const knownTopics = new Set<string>();
const knownPatterns = new Set<string>();

function remember(set: Set<string>, value: string): void {
  if (set.size >= KNOWN_LIMIT) set.clear();
  set.add(value);
}

function checkTokens(value: string, kind: 'topic' | 'pattern'): void {
  if (typeof value !== 'string') {
    throw new InvalidTopicError(`${kind} must be a string, got ${typeof value}`, undefined);
  }
  if (value.length === 0) {
    throw new InvalidTopicError(`${kind} is empty; use tokens joined by '.', like 'orders.placed'`, '', {
      topic: value,
    });
  }
  const tokens = value.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const position = i + 1;
    if (token === '') {
      throw new InvalidTopicError(`${kind} '${value}' has an empty token at position ${position}`, token, {
        topic: value,
      });
    }
    if (token === '*' || token === '>') {
      if (kind === 'topic') {
        throw new InvalidTopicError(
          `topic '${value}' has wildcard '${token}' at position ${position}; wildcards belong in subscription patterns, not in published topics`,
          token,
          { topic: value },
        );
      }
      if (token === '>' && i !== tokens.length - 1) {
        throw new InvalidTopicError(
          `pattern '${value}' has '>' at position ${position}; '>' may only be the last token`,
          token,
          { topic: value },
        );
      }
      continue;
    }
    if (!TOKEN.test(token)) {
      throw new InvalidTopicError(
        `${kind} '${value}' has invalid token '${token}' at position ${position}; tokens use only letters, digits, '_', '-' and ':'`,
        token,
        { topic: value },
      );
    }
  }
}

/** Throws `InvalidTopicError` unless `topic` is a concrete topic (no wildcards). */
export function assertTopic(topic: string): void {
  if (knownTopics.has(topic)) return;
  checkTokens(topic, 'topic');
  remember(knownTopics, topic);
}

/** Throws `InvalidTopicError` unless `pattern` is a valid topic or wildcard pattern. */
export function assertPattern(pattern: string): void {
  if (knownPatterns.has(pattern)) return;
  checkTokens(pattern, 'pattern');
  remember(knownPatterns, pattern);
}

export function isWildcard(pattern: string): boolean {
  return pattern.split('.').some((token) => token === '*' || token === '>');
}

/** Whether a concrete topic matches a pattern. Both are assumed valid. */
export function matchesPattern(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * Whether some topic could match both patterns. A multi-driver bus uses it to find every
 * driver a subscription must listen on.
 */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const s = x[i];
    const u = y[i];
    if (s === '>' || u === '>') {
      // '>' needs at least one token at its position on the other side.
      return s !== undefined && u !== undefined;
    }
    if (s === undefined || u === undefined) return s === u;
    if (s !== '*' && u !== '*' && s !== u) return false;
  }
}
