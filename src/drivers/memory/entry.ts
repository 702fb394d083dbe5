// The memory driver (in-process, the default) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, bytes } = optionSchemas;

export default declareDriver({
  type: 'memory',
  schemes: ['memory:'],
  example: 'memory:',
  fromUrl: () => ({}),
  options: z.strictObject({
    history: z.strictObject({ maxMessages: z.number().int().nonnegative().optional(), maxAgeMs: ms.optional() }).optional(),
    dedupeWindowMs: ms.optional(),
    roundTrip: z.boolean().optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: {},
  needs: 'nothing (in-process, the default); replay when `history` is set, dedupe when `dedupeWindowMs` is',
  load: async () => (await import('./driver.js')).memory,
});
