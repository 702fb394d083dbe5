import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { redis } from '../../src/drivers/redis/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { deleteKeys, REDIS_URL, redisSkip } from '../support/redis.js';

const skip = await redisSkip();
if (skip === false) {
  // Every driver of a run shares one key prefix (persistence cases reopen it); the keys go afterwards.
  const keyPrefix = `omnibus-conformance-${randomUUID().slice(0, 8)}:`;
  after(() => deleteKeys(keyPrefix));
  runConformance('redis', () => redis({ url: REDIS_URL, keyPrefix, dedupeWindowMs: 60_000 }));
  // Topics sharing one stream per first token: every case's topics land in one stream, filtered by pattern.
  runConformance('redis (one stream per topic root)', () => redis({ url: REDIS_URL, keyPrefix: `${keyPrefix}shared:`, streamTokens: 1 }));
}
