// The headers helpers drivers share: the JSON content type alone is left out of storage, and
// the JSON text of headers holding a content type alone comes from a cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headersJson, isJsonTypeOnly, jsonTypeHeaders } from '../../src/driver-kit/json-headers.js';

describe('json headers', () => {
  it('tells the JSON content type alone from everything else', () => {
    assert.equal(isJsonTypeOnly(jsonTypeHeaders()), true);
    assert.equal(isJsonTypeOnly({}), false);
    assert.equal(isJsonTypeOnly({ 'content-type': 'application/octet-stream' }), false);
    assert.equal(isJsonTypeOnly({ 'content-type': 'application/json', traceparent: 'x' }), false);
  });

  it('gives the same JSON text as JSON.stringify, whatever the headers hold', () => {
    const cases: Array<Record<string, string>> = [
      {},
      { 'content-type': 'application/json' },
      { 'content-type': 'application/octet-stream' },
      { 'content-type': 'text/"quoted"\\' },
      { traceparent: '00-abc-01' },
      { 'content-type': 'application/json', traceparent: '00-abc-01' },
    ];
    for (const headers of cases) {
      assert.equal(headersJson(headers), JSON.stringify(headers));
      assert.equal(headersJson({ ...headers }), JSON.stringify(headers), 'again, from the cache');
    }
    // Many distinct content types: the cache is bounded, and the answers stay right.
    for (let n = 0; n < 500; n++) assert.equal(headersJson({ 'content-type': `type/${n}` }), `{"content-type":"type/${n}"}`);
  });
});
