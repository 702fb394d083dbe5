// The gateway section of a configuration file, checked before the gateway starts, so a typo
// or a wrong type is reported with its path instead of failing later in a stranger way.

import { z } from 'zod';

const patterns = z.array(z.string().min(1));
const positive = z.number().positive();
const whole = z.number().int().positive();

const grant = {
  publish: patterns.optional(),
  subscribe: patterns.optional(),
  tenant: z.string().min(1).optional(),
};

const auth = z.strictObject({
  apiKeys: z.array(z.strictObject({ key: z.string().min(1), name: z.string().min(1).optional(), ...grant })).optional(),
  jwt: z
    .strictObject({ secret: z.string().min(1).optional(), publicKey: z.string().min(1).optional(), issuer: z.string().optional(), audience: z.string().optional() })
    .refine((jwt) => jwt.secret !== undefined || jwt.publicKey !== undefined, 'jwt needs a "secret" (HS256) or a "publicKey" (RS256)')
    .optional(),
  anonymous: z.union([z.literal(false), z.strictObject(grant)]).optional(),
});

const limits = z.strictObject({
  maxFrameBytes: whole.optional(),
  maxMessageBytes: whole.optional(),
  maxBatch: whole.optional(),
  maxSubscriptions: whole.optional(),
  publishRate: z.strictObject({ perSecond: positive, burst: positive.optional() }).optional(),
  maxSendBufferBytes: whole.optional(),
  maxUnacked: whole.optional(),
  authTimeoutMs: whole.optional(),
  maxConnectionsPerClient: whole.optional(),
  maxHistoryBytes: whole.optional(),
  historyTimeoutMs: whole.optional(),
});

/** `gateway` in omnibus.config.json: the options of `createGateway` that a file can hold. */
export const gatewaySettings = z.strictObject({
  auth: auth.optional(),
  limits: limits.optional(),
  heartbeatMs: whole.optional(),
  path: z.string().startsWith('/').optional(),
  allowedOrigins: z.array(z.string().min(1)).optional(),
  insecure: z.boolean().optional(),
  presenceEvents: z.boolean().optional(),
  dashboard: z.boolean().optional(),
});
