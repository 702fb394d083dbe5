// The redis driver (Redis Streams, or plain pub/sub channels) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'redis',
  schemes: ['redis:', 'rediss:', 'redis+pubsub:', 'rediss+pubsub:'],
  example: 'redis://127.0.0.1:6379',
  // redis://[user:password@]host:port[/db], rediss:// for TLS; redis+pubsub:// (rediss+pubsub://) for pub/sub mode.
  fromUrl: (url) => {
    const pubsub = /^(rediss?)\+pubsub:/.exec(url);
    return pubsub === null ? { url } : { url: pubsub[1] + url.slice(pubsub[0].length - 1), mode: 'pubsub' };
  },
  options: z.strictObject({
    mode: z.enum(['streams', 'pubsub']).optional(),
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
  peers: { ioredis: '>=5.0.0' },
  needs: "the ioredis package and Redis >= 6.2 (`redis-server`); dedupe when `dedupeWindowMs` is set; `mode: 'pubsub'` (`redis+pubsub://`) for plain channels, at most once",
  semantics: {
    publish: "Redis answered the `XADD` (pipelined per batch): the entry is in the server's memory, as durable as its own persistence (`appendonly`, `save`) makes it. A publish retried after a dropped connection may be stored twice unless `dedupeWindowMs` is set. Pub/sub mode: Redis answered the `PUBLISH`, so the message was handed to the subscribers connected at that moment; nothing is stored.",
    ack: "In a group, Redis answered the `XACK` (one per stream and group for the acks of one event-loop turn): the entry is off the group's pending list, and no member gets it again, in any process. Across a Redis restart that lasts only as far as the server persists: with `appendfsync everysec`, about the last second of acks can come back. Without a group, `ack()` completes at once in the process. Pub/sub mode: completes at once and tells the server nothing.",
    durability: "The server's: AOF with `appendfsync always` keeps every answered write through a server crash, `everysec` may lose about a second, RDB snapshots lose what came after the last one, and a server without persistence loses the streams and groups on restart. Replication is asynchronous, so a failover can lose what the old primary answered. Pub/sub mode: nothing is kept; a message published while a subscriber is disconnected, or held in a process that dies, is lost.",
    ordering: 'Per stream: entries are read in id order, so the messages of one topic (or of the topics sharing a stream with `streamTokens`) keep publish order, a key with any concurrency and all of them with concurrency 1. There is no order across streams: a wildcard gets each stream in order, interleaved. Pub/sub mode: the messages of one publishing driver (one connection) arrive in publish order.',
    dedupe: "Only with `dedupeWindowMs` (off by default): a key `<prefix>@id:<id>`, set with the `XADD` in one Lua step, expires after the window; a duplicate within it resolves `duplicate: true` with the first entry's id as its `seq`; after it, the id is stored again. Off by default, unlike the 2 minutes of SQLite, PostgreSQL and NATS, because it costs every publish a Lua step and a key. Pub/sub mode: none.",
    groups: "A Redis consumer group per stream, named `<group>|<pattern>`, read with `XREADGROUP`; each member is its own consumer holding at most `prefetch` (100) entries unsettled. The position and pending list live in Redis. `from` applies when the group is created, and is kept in `<prefix>@groups` for streams the group meets later. Pub/sub mode: none; subscribing with a group is refused with a `ConfigurationError`.",
    replay: "`from: 'earliest' | { seq } | { time }` and `read()` reach what each stream still holds: `retention` trims every stream approximately on each `XADD`, by default to about 100,000 entries (`{}` keeps everything). Entry ids are times, so on a wildcard a `{ seq }` means that entry's moment in every stream. Pub/sub mode: none, only what is published after subscribing.",
    ackDeadline: "In a group, every member runs `XAUTOCLAIM` with the ack deadline as minimum idle time, every quarter deadline (at most 5 s apart), so an entry left unsettled goes to a member in any process, its `attempt` the delivery count Redis keeps. Without a group, deadlines are kept in the process. Pub/sub mode: kept in the process, which redelivers a nacked or lapsed message to its subscription.",
    maxPayload: '1 MiB by default (`maxPayloadBytes`), a guard: Redis accepts up to `proto-max-bulk-len` (512 MB). Pub/sub mode: the same guard, on the body.',
    delays: "A sorted set scored by due time, with the entries in a hash; a Lua step moves due entries into their streams atomically, in due order then publish order, and `due` notices let other processes move a stopped publisher's messages on time. Pub/sub mode: refused with a `ConfigurationError`, as nothing can be held.",
    lag: "`XINFO GROUPS` on each stream the pattern reads: `lag` (entries the group has not read) plus `pending` (read, not XACKed). Where Redis gives no `lag` (always on Redis 6.2; on 7 after `XDEL` of an unread entry) the entries after the group's last-delivered id are counted on the server, up to 10,000 per stream (past it, a floor). A stream counts whole, so with `streamTokens` other topics sharing it count too; a stream the group never read counts 0. Pub/sub mode has no `lag()`: it has no groups.",
    limits: [
      'Pub/sub mode: at most once, with no groups, replay, de-duplication, delays or lag; a subscriber slower than its publishers holds what arrives in the process, and Redis cuts off a subscriber connection past `client-output-buffer-limit pubsub`.',
      'Redis Cluster is not supported: the Lua steps touch keys of different hash slots.',
      'Trimming (`retention`) removes entries whether or not every group has read them.',
      'No de-duplication unless `dedupeWindowMs` is set.',
      'A subscription without a group keeps its position and unsettled messages in the process: what was unsettled when it went away is gone for it.',
      'No order across streams.',
      'Consumers of members that closed with entries pending stay in `XINFO CONSUMERS` until an operator removes them.',
    ],
  },
  load: async () => (await import('./driver.js')).redis,
});
