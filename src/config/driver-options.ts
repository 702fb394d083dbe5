// What a configuration file may say to each driver: the options that JSON can hold (a client
// object you built yourself is for code, not files), checked so a typo or a wrong type is
// named with its path rather than ignored.

import { z } from 'zod';

const ms = z.number().nonnegative();
const count = z.number().int().positive();
const bytes = z.number().int().positive();
const object = z.record(z.string(), z.unknown());

export const driverOptions: Record<string, z.ZodObject> = {
  memory: z.strictObject({
    history: z.strictObject({ maxMessages: z.number().int().nonnegative().optional(), maxAgeMs: ms.optional() }).optional(),
    dedupeWindowMs: ms.optional(),
    roundTrip: z.boolean().optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  sqlite: z.strictObject({
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
  redis: z.strictObject({
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
  nats: z.strictObject({
    servers: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
    connectOptions: object.optional(),
    mode: z.enum(['jetstream', 'core']).optional(),
    subjectPrefix: z.string().optional(),
    streamPrefix: z.string().optional(),
    streamTokens: count.optional(),
    stream: object.optional(),
    dedupeWindowMs: ms.optional(),
    publishTimeoutMs: ms.optional(),
    connectTimeoutMs: ms.optional(),
    pullBatch: count.optional(),
    pullExpiresMs: ms.optional(),
    maxAckPending: z.number().int().optional(),
    ephemeralInactiveMs: ms.optional(),
    ackTimeoutMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  postgres: z.strictObject({
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
};
