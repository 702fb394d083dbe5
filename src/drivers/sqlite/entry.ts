// The sqlite driver (embedded and durable, one SQLite file) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes } = optionSchemas;

export default declareDriver({
  type: 'sqlite',
  schemes: ['sqlite:'],
  example: 'sqlite:omnibus.db',
  fromUrl: (url) => {
    // sqlite:omnibus.db, sqlite:///var/lib/omnibus.db, sqlite:./data/bus.db?synchronous=normal
    const [location, query = ''] = url.slice('sqlite:'.length).split('?', 2);
    const path = decodeURIComponent(location.startsWith('//') ? location.slice(2) : location);
    const synchronous = new URLSearchParams(query).get('synchronous') ?? undefined;
    return { path: path === '' ? 'omnibus.db' : path, ...(synchronous === undefined ? {} : { synchronous }) };
  },
  options: z.strictObject({
    path: z.string().min(1).optional(),
    synchronous: z.enum(['full', 'normal', 'off']).optional(),
    retention: z
      .array(z.strictObject({ topics: z.string().min(1), maxAgeMs: ms.optional(), maxMessages: z.number().int().nonnegative().optional(), maxBytes: z.number().int().nonnegative().optional() }))
      .optional(),
    retentionIntervalMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
    busyTimeoutMs: ms.optional(),
    pollIntervalMs: ms.optional(),
    claimBatch: count.optional(),
  }),
  peers: { 'better-sqlite3': '>=12.0.0' },
  needs: 'the better-sqlite3 package; no server (one file, shared by processes on one machine)',
  tableOptions: { path: 'omnibus.db' },
  load: async () => (await import('./driver.js')).sqlite,
});
