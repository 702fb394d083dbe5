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
    dedupeWindowMs: ms.optional(),
    busyTimeoutMs: ms.optional(),
    pollIntervalMs: ms.optional(),
    claimBatch: count.optional(),
  }),
  peers: { 'better-sqlite3': '>=12.0.0' },
  needs: 'the better-sqlite3 package; no server (one file, shared by processes on one machine)',
  tableOptions: { path: 'omnibus.db' },
  semantics: {
    publish: "The transaction holding it has committed (publishes, acks and claims of one event-loop turn share one), and it has its `seq`. With `synchronous: 'full'` (the default) that commit was fsynced, so the message survives a power loss; with `'normal'`, a crash of the process but not of the machine.",
    ack: 'In a group, its lease was deleted in a committed transaction: no member in any process on the file gets the message again. That commit is not fsynced on its own, so after a power loss or an OS crash the last acks may be undone and their messages delivered again. Without a group, it settles in memory at once.',
    durability: "One SQLite file in WAL mode holds the log, the groups' positions and their leases: what committed survives a crash of the process, what was fsynced a crash of the machine. When a process dies, the others on the file (or the next to open it) hand its leases back within a second.",
    ordering: "Global: every message takes the next `seq` of one sequence across all topics, and a subscription, or one process's share of a group, receives in `seq` order. A group whose members run in several processes splits its messages between them, so order holds per process.",
    dedupe: "By id, for `dedupeWindowMs` (2 minutes by default) from when it was stored, whichever process publishes: the `dedupe` table remembers each id's `seq` until then, and publishing it again within the window stores nothing and resolves with `duplicate: true` and that `seq`. After the window the id is stored again, as a new message. A delayed message meets the window when it enters the log. The window holds the ids publishers chose (the `id` option, `bus.writer()`, the outbox, gateway clients); an id the bus made up for a publish without one is left out, as JetStream leaves out a publish without `Nats-Msg-Id`: no retry can carry an id learnt only once the message was stored.",
    groups: "Stored in the file by name and pattern: a position, and a lease per message handed out. Members in every process on the file claim from it, each process holding at most `claimBatch` (512) of a group's messages unsettled. A new group starts at its `from` (default `'latest'`); an existing one resumes from its position.",
    replay: "`from: 'earliest' | { seq } | { time }` and `read()` reach every message still retained: nothing is deleted unless a `retention` rule or the message's `ttlMs` says so.",
    ackDeadline: 'In a group, the lease has a deadline in the file: past it, any member in any process takes the message again, with `attempt` one higher. Without a group, deadlines are kept in memory while the subscription lives.',
    maxPayload: '8 MiB by default; `maxPayloadBytes` changes it.',
    delays: 'A `delayed` table indexed by due time; when due, one transaction moves the rows into the log, in due order then publish order, and the message counts as published then. Survives restarts of every process; typically 2 to 10 ms late.',
    lag: "The unexpired messages after the group's position on each stored topic its pattern matches (one indexed count per topic), plus the group's leases (handed out, not acked); the count stops at 10,000 unread per topic, past which it is a floor. A group the file does not hold counts 0.",
    limits: [
      "One machine: processes share the file on a local disk, as SQLite's WAL mode does not work over a network file system.",
      'Writers take turns on one write lock: a publish that waits past `busyTimeoutMs` fails with a retriable `PublishError`.',
      'Acks and claims are not fsynced on their own: after a power loss the last of them may be undone (delivered again, never lost).',
      'Retention rules delete by age, count or bytes whether or not every group has read the messages.',
      "A subscription without a group keeps its position in memory: started again, it begins at its `from`.",
    ],
  },
  load: async () => (await import('./driver.js')).sqlite,
});
