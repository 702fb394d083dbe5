// The kafka driver (Apache Kafka, or a Kafka-compatible broker such as Redpanda) as
// configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'kafka',
  schemes: ['kafka:'],
  example: 'kafka://127.0.0.1:9092',
  // kafka://host:port[,host:port][?clientId=app&partitions=6]
  fromUrl: (url) => {
    const [address, query = ''] = url.slice('kafka://'.length).split('?', 2);
    const options: Record<string, unknown> = { brokers: address.split(',').filter((broker) => broker !== '') };
    const params = new URLSearchParams(query);
    const clientId = params.get('clientId');
    if (clientId !== null) options.clientId = clientId;
    const partitions = params.get('partitions');
    if (partitions !== null) options.partitions = Number(partitions);
    return options;
  },
  options: z.strictObject({
    brokers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    clientId: z.string().min(1).optional(),
    producer: object.optional(),
    additionalConfig: object.optional(),
    autoCreateTopics: z.boolean().optional(),
    partitions: count.optional(),
    replicationFactor: z.number().int().min(-1).optional(),
    topicConfig: z.record(z.string(), z.string()).optional(),
    idempotent: z.boolean().optional(),
    acks: z.enum(['all', 'leader']).optional(),
    compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).optional(),
    lingerMs: ms.optional(),
    batchSize: bytes.optional(),
    fetchMaxWaitMs: ms.optional(),
    topicRefreshMs: ms.optional(),
    sessionTimeoutMs: ms.optional(),
    heartbeatIntervalMs: ms.optional(),
    rebalanceTimeoutMs: ms.optional(),
    prefetch: count.optional(),
    maxPayloadBytes: bytes.optional(),
    delayTopic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, "a Kafka topic name: letters, digits, '.', '_' and '-'").optional(),
  }),
  peers: { '@platformatic/kafka': '>=1.30.0' },
  needs: 'the @platformatic/kafka package and Apache Kafka >= 3.5 (KRaft) or a compatible broker',
  semantics: {
    publish: "The broker acknowledged the record with the producer's `acks`: by default `all`, every in-sync replica has it. The idempotent producer (on by default) stops the client's own retries from storing it twice; a produce request that fails fails every publish in it, and some of its records may be stored.",
    ack: 'In a group, a commit covering it succeeded: the driver commits per partition the lowest offset handed out and not yet settled, with the offsets settled above it in the commit metadata, so no member in any process gets the message again. If the partition went to another member first, `ack()` rejects instead. Without a group, it completes at once and commits nothing.',
    durability: "Records are in the broker's log, replicated as the topic says (`replicationFactor`, default the broker's); committed offsets are as durable as `__consumer_offsets`.",
    ordering: "Per key: a keyed message goes to `murmur2(key) mod partitions`, as Kafka's Java client puts it, and a partition keeps its order. Messages without a key go round-robin; a fetch merges partitions by record time, but under load there is no order across partitions.",
    dedupe: 'None by id: a message published again with the same id is stored again. The idempotent producer only stops one request retried by the client from being written twice.',
    groups: "Kafka consumer groups, named as given, on the classic protocol: the leader spreads each topic's partitions round-robin over the members that subscribed to it. A new group starts at its `from` (by default what is published after the member subscribed), committed at once. The first members get partitions only after the broker's `group.initial.rebalance.delay.ms` (3 s by default).",
    replay: "`from: 'earliest' | { seq } | { time }` (ListOffsets by timestamp) and `read()` reach what the topic's retention keeps. `seq` is `<topic>:<partition>:<offset>`: a `{ seq }` starts that partition at that offset and the others at that record's time.",
    ackDeadline: 'Kept in the process: a record unsettled past its deadline is handed to the subscriber again while the rest of its partition goes on, and holds the commit point back, so after a crash or a hand-over the partition is read again from it. The deadline counts from the hand-over, which may be while the record waits in the subscriber\'s buffer.',
    maxPayload: "The broker's `message.max.bytes` less 8 KiB for key and headers, read on connect (before that Kafka's default, 1,048,588, which the table shows); `maxPayloadBytes` sets it.",
    delays: "Kafka has none: a delayed message is stored at once in the delay topic (`delayTopic`, default `omnibus.delayed`, created like any topic), its topic and due time in headers. A mover in every process that subscribed or published a delay, one consumer group (`<delayTopic>-mover`) so each partition has one mover at a time, reads it, holds it in memory until due, publishes it to its topic with its id, key and headers and the due time as its time, then commits; it commits only what it moved, so a mover that stops leaves what it held in Kafka for the next. Due messages go out in due order, equal due times in publish order (per key across the delay topic's partitions). A few milliseconds late while a mover runs (2 to 8 ms here); as late as a group's start when none did (`group.initial.rebalance.delay.ms`, 3 s by default) or a rebalance of the movers takes.",
    lag: 'Per partition of every topic the pattern matches: the end offset, less the group\'s committed offset, less the offsets settled above it that the commit metadata records. Acks count once committed, which is when they resolve; a partition the group never committed counts 0.',
    limits: [
      'No de-duplication by message id.',
      'A mover that stops between publishing a due message and committing it, or loses the partition then, leaves it to be moved again: a duplicate, which Kafka cannot drop by id.',
      'A mover holds at most 10,000 delayed records of its partitions; past that, a message behind them waits until the earliest are moved (head-of-line), so a short delay published behind 10,000 long ones is late.',
      "The delay topic keeps what it holds as long as its retention says (`topicConfig` or the broker's `retention.ms`, 7 days by default): a longer delay needs a longer retention.",
      'Nack and the ack deadline deliver again from the process: a nacked message is read from Kafka again only if the process goes away first.',
      'Topic names allow only letters, digits, `.`, `_` and `-`, at most 249 characters: a topic with `:` is refused with `InvalidTopicError`.',
      'Partitions added to a topic later are not picked up until the process restarts.',
      'No sticky assignment: a rebalance may move partitions that could have stayed.',
      'A topic created elsewhere reaches a wildcard subscription at the next topic refresh (`topicRefreshMs`, 2 s), and a group rebalances when it does.',
    ],
  },
  load: async () => (await import('./driver.js')).kafka,
});
