// The postgres driver (PostgreSQL tables with LISTEN/NOTIFY) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes } = optionSchemas;

export default declareDriver({
  type: 'postgres',
  schemes: ['postgres:', 'postgresql:'],
  example: 'postgres://127.0.0.1:5432/test?schema=omnibus',
  fromUrl: (url) => {
    // postgres://[user[:password]@]host[:port]/database[?schema=omnibus&sslmode=...]
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema');
    parsed.searchParams.delete('schema');
    return { connectionString: parsed.toString(), ...(schema === null ? {} : { schema }) };
  },
  options: z.strictObject({
    connectionString: z.string().min(1).optional(),
    schema: z.string().min(1).optional(),
    migrate: z.boolean().optional(),
    poolSize: count.optional(),
    connectTimeoutMs: ms.optional(),
    publishRetryMs: ms.optional(),
    prefetch: count.optional(),
    pollIntervalMs: ms.optional(),
    retention: z.strictObject({ maxAgeMs: ms.optional(), maxMessages: z.number().int().nonnegative().optional() }).optional(),
    retentionIntervalMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { pg: '>=8.0.0' },
  needs: 'the pg package and PostgreSQL >= 12 (tested on 15)',
  load: async () => (await import('./driver.js')).postgres,
});
