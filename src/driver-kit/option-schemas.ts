// The kinds of value driver options take, as schemas for their declarations (zod, a
// Standard Schema): durations, counts, sizes, and objects passed through to a client library.

import { z } from 'zod';

export const optionSchemas = {
  /** Milliseconds, 0 or more. */
  ms: z.number().nonnegative(),
  /** A whole number, 1 or more. */
  count: z.number().int().positive(),
  /** Bytes, 1 or more. */
  bytes: z.number().int().positive(),
  /** Options handed to the broker's client as they are. */
  object: z.record(z.string(), z.unknown()),
};
