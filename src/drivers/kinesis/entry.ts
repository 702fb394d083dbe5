// The kinesis driver (Amazon Kinesis Data Streams, or kinesalite) as configuration and the
// package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes } = optionSchemas;

export default declareDriver({
  type: 'kinesis',
  schemes: ['kinesis:'],
  example: 'kinesis://127.0.0.1:4567?checkpoints=sqlite:omnibus-kinesis.db',
  // kinesis://host:port (an endpoint over http), kinesis://aws (AWS's own), then
  // ?region=&shards=&streamPrefix=&streamTokens=&checkpoints=sqlite:<path>|postgres://…
  fromUrl: (url) => {
    const [address, query = ''] = url.slice('kinesis://'.length).split('?', 2);
    const options: Record<string, unknown> = {};
    if (address !== '' && address !== 'aws') options.endpoint = `http://${address}`;
    const params = new URLSearchParams(query);
    for (const name of ['region', 'streamPrefix', 'checkpoints']) {
      const value = params.get(name);
      if (value !== null) options[name] = value;
    }
    for (const name of ['shards', 'streamTokens', 'leaseMs', 'pollMs']) {
      const value = params.get(name);
      if (value !== null) options[name] = Number(value);
    }
    return options;
  },
  options: z.strictObject({
    endpoint: z.string().url().optional(),
    region: z.string().min(1).optional(),
    credentials: z.strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() }).optional(),
    streamPrefix: z.string().regex(/^[A-Za-z0-9_.-]*$/).optional(),
    streamTokens: count.optional(),
    createStreams: z.boolean().optional(),
    shards: count.optional(),
    checkpoints: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, "'sqlite:<path>' or 'postgres://…'").optional(),
    leaseMs: ms.optional(),
    pollMs: ms.optional(),
    batchSize: count.max(10_000).optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { '@aws-sdk/client-kinesis': '>=3.0.0', '@smithy/node-http-handler': '>=3.0.0', 'better-sqlite3': '>=12.0.0', pg: '>=8.0.0' },
  needs: 'the @aws-sdk/client-kinesis and @smithy/node-http-handler packages, Kinesis Data Streams (or kinesalite), and better-sqlite3 or pg for group checkpoints',
  semantics: {
    publish: 'PutRecords answered with a sequence number for the record: Kinesis stores it durably across its availability zones. Records Kinesis turns away (throttling) are sent again up to 5 times, backing off, before the publish fails with a `ConnectionError`.',
    ack: "In a group, the group's checkpoint row for the shard, written to the checkpoint store, covers it: the checkpoint is the sequence number below which everything is settled, plus the records settled above it (up to 500), so no member reads it again. If the shard's lease went to another member first, `ack()` rejects. Without a group it completes at once and records nothing: Kinesis has no per-message ack.",
    durability: "Records live in the stream for its retention (24 hours by default on AWS, set on the stream). Checkpoints and leases are as durable as the checkpoint store: the SQLite file or the Postgres database.",
    ordering: "Per key: the key is the partition key, so one key stays on one shard, which keeps its order. A message without a key goes by its id, spread over the shards. A subscriber's poll merges its shards by arrival time then id; there is no order across shards beyond that.",
    dedupe: 'None: a message published again with the same id is a new record. Kinesis has no de-duplication.',
    groups: "Members share a stream's shards by leases in the checkpoint store (owner and expiry, renewed every third of `leaseMs`): the live members sorted by id, each takes its share, and one that stops renewing loses its shards when the leases expire. A new group starts at its `from`, recorded by its first member ('latest' is the moment it began).",
    replay: "`from: 'earliest'` (TRIM_HORIZON), `{ seq }` and `{ time }` reach what the stream's retention keeps. `seq` is `<stream>:<shard>:<sequence number>`: its shard starts at that record, the other shards after it in arrival order. A time reads each shard from TRIM_HORIZON and skips what arrived earlier (kinesalite cannot answer AT_TIMESTAMP). No `read()`: history goes through a subscription.",
    ackDeadline: 'Kept in the process: a record unsettled past its deadline is handed to the subscriber again and holds the checkpoint back, so after a crash or a hand-over the shard is read again from it.',
    maxPayload: "Kinesis's 1 MiB record limit (Data plus partition key) less 16 KiB for the envelope and partition key; `maxPayloadBytes` sets it lower.",
    lag: 'No `lag()`: Kinesis cannot count the records after a sequence number without reading them.',
    delays: 'Not supported: `delayedDelivery` is false and a delay is refused with a `ConfigurationError`. Kinesis has no delayed records.',
    limits: [
      'No per-message ack: a group checkpoints a sequence number per shard, and a record settled out of order is remembered in the checkpoint (up to 500 per shard) rather than acknowledged to Kinesis.',
      "No broker-side wildcards: a pattern reads its stream and core's matcher filters, so the first `streamTokens` tokens of a pattern must be concrete; a wildcard among them is refused with `InvalidTopicError`.",
      'Polling: a subscriber asks each shard for records every `pollMs` (200 ms) when idle, the latency floor; AWS allows 5 GetRecords a second per shard, shared by every subscriber of the stream.',
      "Resharding is not followed by subscriptions without a group, and a closed parent shard's unread records are not read by a group once its children are leased.",
      'No de-duplication by message id; no delayed delivery; no `read()` or `lag()`.',
    ],
  },
  load: async () => (await import('./driver.js')).kinesis,
});
