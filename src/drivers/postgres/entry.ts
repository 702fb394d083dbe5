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
    dedupeWindowMs: ms.optional(),
    retentionIntervalMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { pg: '>=8.0.0' },
  needs: 'the pg package and PostgreSQL >= 12 (tested on 15)',
  semantics: {
    publish: 'Its `INSERT` has committed, synchronously (publishes never use `synchronous_commit = off`), so it survives a crash of the server. While the server is unreachable a publish is retried for `publishRetryMs` (5 s), then fails with `ConnectionError`; ids make the retry safe.',
    ack: "The `DELETE` of its lease has committed: no member, in any process, is handed the message again, and a clean restart of the server keeps it so. Settles commit with `synchronous_commit = off`, so a crash of the server within about `3 × wal_writer_delay` (600 ms by default) can forget one, and the message is delivered once more. A subscription without `group` is an ephemeral group in the same tables, and acks the same way.",
    durability: 'Rows in one schema (`messages`, `groups`, `leases`): as durable as the PostgreSQL server, its WAL, replicas and backups. A server crash can lose the last fraction of a second of claims and settles (redelivery), never a published message.',
    ordering: 'Global: one `seq` for the whole schema, and an advisory lock makes seqs visible in order, so whoever has seen seq n has seen every committed seq below it. A subscription, and each member of a group, gets new messages in `seq` order; a group splits its messages among its members.',
    dedupe: "By id, for `dedupeWindowMs` (2 minutes by default) from when it was stored, across every bus on the schema: the `dedupe` table's primary key decides under the publish lock, and publishing the id again within the window stores nothing and resolves with `duplicate: true` and the stored `seq`. After the window the id is stored again, as a new message. A delayed message meets the window when it moves into the log. The window holds the ids publishers chose (the `id` option, `bus.writer()`, the outbox, gateway clients); of the ids the bus made up for publishes without one, only each batch's first, the marker by which a publish retried after a lost reply finds out that its batch committed, so the retry stores nothing twice.",
    groups: "Rows in `groups` (name, pattern, position) and `leases`: members in any process claim with `FOR UPDATE SKIP LOCKED`, each process holding at most `prefetch` (200) of a group's messages unsettled. A new group starts at its `from` (default `'latest'`); an existing one resumes from its position, across restarts of the process and of the server.",
    replay: "`from: 'earliest' | { seq } | { time }` and `read()` reach what retention keeps: by default 7 days (`retention.maxAgeMs`), and nothing past its `ttlMs`.",
    ackDeadline: "A lease's `until`, in the table: past it, whichever member claims first, in any process, gets the message again with `attempt` one higher. Every settle names its attempt, so a late ack of a lapsed lease changes nothing.",
    maxPayload: '16 MiB by default (`maxPayloadBytes`); PostgreSQL allows up to 1 GiB per value.',
    delays: "A `delayed` table (migration 2); `move_due()` moves due rows into the log under the publish lock, in due order then publish order. Survives restarts; a message whose publisher stopped is moved by another process's next safety poll (5 s by default).",
    lag: "One statement: the unexpired messages after the group's position whose topic matches the pattern (as a regular expression), plus the group's leases. A group not stored counts 0.",
    limits: [
      'An ack, a nack or a claim can be forgotten by a server crash within about 600 ms of its commit: the message is delivered again.',
      'Retention deletes by age and count whether or not every group has read the messages.',
      'A batch holding an id stored within the window (or one past it that retention has not pruned yet) costs a second round trip, an error line in the server log and a new pool connection: fine for retries, not for a producer that repeats ids all the time.',
    ],
  },
  load: async () => (await import('./driver.js')).postgres,
});
