// The one event the two services share.
import { z } from 'zod';
import { defineEvent } from '../../src/index.js';

const user = z.object({ id: z.string(), name: z.string(), email: z.string() });
export type User = z.infer<typeof user>;

export const UserCreated = defineEvent('user.created', user);
