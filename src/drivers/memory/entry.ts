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
  semantics: {
    publish: "Every subscription the topic matches has been handed the message (a full buffer makes the publish wait, under the default `deliveryMode: 'block'`). Nothing is stored: a message no subscription matches is gone, unless `history` keeps it.",
    ack: 'Settles the delivery in memory, at once: its group does not get the message again from this driver. Nothing of it outlives the process.',
    durability: 'None: messages, groups, history and what is in flight live in the process and end with it.',
    ordering: 'Global: one process hands messages out in publish order, so a subscription with concurrency 1 gets them all in that order.',
    dedupe: 'Only with `dedupeWindowMs` (off by default): the ids published within the window are remembered in the process, and an id published again meanwhile is dropped; its publish resolves.',
    groups: 'The members of a group in this process share its messages round-robin. A group lasts while it has a member: once the last one closes, it is forgotten with what it had unsettled, and what is published until a member subscribes again is not kept for it.',
    replay: "Only with `history` (`maxMessages`, `maxAgeMs`; off by default): `from: 'earliest' | { seq } | { time }` and `read()` go back over the messages this process retained. Without it a subscription starts at what is published next, and `read()` throws `ConfigurationError`.",
    ackDeadline: 'Kept in the process: one sweep every quarter of the shortest ack deadline (at least every 5 ms) delivers again, with `attempt` one higher, what is past its deadline; never early, at most about half a deadline late.',
    maxPayload: 'No limit by default: payloads are handed over as values, never encoded. With `maxPayloadBytes` set, each publish is encoded once to be measured.',
    delays: 'Held by one timer in the process, in due order (equal due times in publish order); gone with the process, as everything on this driver is.',
    lag: 'No `lag()`: a message is handed to a member as it is published, so nothing waits in the driver to be counted, and `bus.lag()`, `stats().lag` and `omnibus_consumer_lag` leave its groups out rather than show a figure.',
    limits: [
      'One process: nothing is shared with another, and nothing survives its exit.',
      'Replay and de-duplication only when `history` and `dedupeWindowMs` ask for them, and only over what this process saw.',
      'A group without a live member keeps nothing: what is published meanwhile never reaches it.',
      'No consumer lag.',
    ],
  },
  load: async () => (await import('./driver.js')).memory,
});
