import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { redis } from '../../src/drivers/redis/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { freePort } from '../support/private-server.js';
import { deleteKeys, REDIS_URL, redisSkip } from '../support/redis.js';

const skip = await redisSkip();
if (skip === false) {
  // Every driver of a run shares one key prefix (persistence cases reopen it); the keys go afterwards.
  const keyPrefix = `omnibus-conformance-${randomUUID().slice(0, 8)}:`;
  after(() => deleteKeys(keyPrefix));
  // A dedupe window the window case can wait out.
  runConformance('redis', () => redis({ url: REDIS_URL, keyPrefix, dedupeWindowMs: 2_000 }), {
    unreachable: async () => redis({ url: `redis://127.0.0.1:${await freePort()}`, keyPrefix }),
    // No such user in the server's ACL: it answers WRONGPASS.
    refused: () => redis({ url: 'redis://nobody:wrong@127.0.0.1:6379', keyPrefix }),
  });
  // Topics sharing one stream per first token: every case's topics land in one stream, filtered by pattern.
  runConformance('redis (one stream per topic root)', () => redis({ url: REDIS_URL, keyPrefix: `${keyPrefix}shared:`, streamTokens: 1 }));
  // Plain channels, at most once: the cases for groups, persistence, replay and de-duplication
  // are skipped by its capabilities. Its channels carry the run's prefix, so runs stay apart.
  runConformance('redis (pubsub)', () => redis({ url: REDIS_URL, mode: 'pubsub', keyPrefix }), {
    unreachable: async () => redis({ url: `redis://127.0.0.1:${await freePort()}`, mode: 'pubsub' }),
    refused: () => redis({ url: 'redis://nobody:wrong@127.0.0.1:6379', mode: 'pubsub' }),
  });
}
