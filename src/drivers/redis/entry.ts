// The redis driver (Redis Streams) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'redis',
  schemes: ['redis:', 'rediss:'],
  example: 'redis://127.0.0.1:6379',
  fromUrl: (url) => ({ url }), // redis://[user:password@]host:port[/db], rediss:// for TLS,
  options: z.strictObject({
    url: z.string().min(1).optional(),
    connection: object.optional(),
    keyPrefix: z.string().optional(),
    streamTokens: count.optional(),
    retention: z.strictObject({ maxLength: z.number().int().nonnegative().optional(), maxAgeMs: ms.optional() }).optional(),
    dedupeWindowMs: ms.optional(),
    batchSize: count.optional(),
    prefetch: count.optional(),
    blockMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { ioredis: '>=5.0.0' },
  needs: 'the ioredis package and Redis >= 6.2 (`redis-server`); dedupe when `dedupeWindowMs` is set',
  load: async () => (await import('./driver.js')).redis,
});
