// The amqp driver (RabbitMQ) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes } = optionSchemas;

/** Query parameters of an address that are the driver's own, not amqplib's. */
const OWN_PARAMS = { exchange: String, prefetch: Number, connectionName: String } as const;

export default declareDriver({
  type: 'amqp',
  schemes: ['amqp:', 'amqps:'],
  example: 'amqp://guest:guest@127.0.0.1:5672',
  fromUrl: (url) => {
    // amqp://user:password@host:port[/vhost][?exchange=omnibus&prefetch=100&heartbeat=30]: amqplib reads the rest of the query.
    const [address, query = ''] = url.split('?', 2);
    const params = new URLSearchParams(query);
    const options: Record<string, unknown> = {};
    for (const [name, parse] of Object.entries(OWN_PARAMS)) {
      const value = params.get(name);
      if (value === null) continue;
      options[name] = parse(value);
      params.delete(name);
    }
    const rest = params.toString();
    options.url = rest === '' ? address : `${address}?${rest}`;
    return options;
  },
  options: z.strictObject({
    url: z.string().min(1).optional(),
    exchange: z.string().min(1).max(255).optional(),
    prefetch: count.max(65_535).optional(),
    maxPayloadBytes: bytes.optional(),
    reconnect: z.strictObject({ initialMs: ms.optional(), maxMs: ms.optional() }).optional(),
    connectionName: z.string().optional(),
  }),
  peers: { amqplib: '>=2.2.0' },
  needs: 'the amqplib package and RabbitMQ >= 3.8 (`rabbitmq-server`); quorum queues for groups',
  semantics: {
    publish:
      'RabbitMQ confirmed it (publisher confirms on one channel): the message, persistent (`deliveryMode` 2), is in every queue bound to the topic at that moment, on disk in durable queues. A message no queue is bound for is confirmed and dropped, as an exchange does; a publish while the connection is down fails with `ConnectionError`.',
    ack:
      "RabbitMQ has handled the `basic.ack`: AMQP answers no ack, so the driver sends each at once and resolves it when a `basic.qos` sent after it on the same channel is answered (one such barrier in flight per channel): no consumer gets the message again. A quorum queue commits the ack through its Raft log just after. An ack that cannot reach RabbitMQ (the connection dropped) rejects with `ConnectionError`, and RabbitMQ redelivers the message.",
    durability:
      "A group's queue is durable, a quorum queue (replicated and fsynced by Raft) where the server has them, so its messages and position survive a restart of the process, the broker and the machine. A fan-out subscription's queue is exclusive and auto-delete: it goes with its connection, so what was published while a subscriber was away is not kept for it.",
    ordering:
      "Per queue: RabbitMQ delivers a queue's messages in the order they arrived, so one publisher's messages (a key's included) keep their order for a subscription with concurrency 1 until one is requeued or nacked with a delay, which puts it back later. There is no order across publishers on different connections.",
    dedupe: 'None: RabbitMQ stores a message published twice twice; the `messageId` property carries the id for consumers that de-duplicate.',
    groups:
      "A group is one durable queue per group and pattern, named `<exchange>:<group>:<pattern>` and bound with the pattern; its members consume it, and RabbitMQ hands each message to one of them, round-robin among those with room under `prefetch`. The position is the queue itself: it lives in RabbitMQ and keeps collecting while no member is connected, until someone deletes it.",
    replay: "None: a queue's messages are gone once acked, and a queue receives only what was published after it was bound. `from` other than `'latest'` is refused; RabbitMQ streams could replay but are not used.",
    ackDeadline:
      "Kept in the process: a delivery left unsettled past its deadline is requeued (`basic.nack` with requeue) for any member; `inProgress()` moves the deadline. If the process or connection dies, RabbitMQ itself requeues everything unacked on it. RabbitMQ 3.10 has no per-queue `x-consumer-timeout` (3.12 has), and its global `consumer_timeout` closes the whole channel, so it is not used.",
    maxPayload: '1 MiB by default (`maxPayloadBytes`), a guard below the server\'s `max_message_size` (128 MiB by default on 3.10).',
    lag: "None: AMQP's `queue.declare-ok` counts only a queue's ready messages, not those delivered and unacked, and the driver does not require the management plugin that would.",
    delays:
      "Refused (`delayedDelivery: false`). `nack(delayMs)` is durable, though: the message is republished to a shared delay queue whose TTL is the delay rounded up to two significant digits, and RabbitMQ dead-letters it back to the queue it came from when the TTL runs out.",
    limits: [
      'No replay and no `read()`: queues keep only what is unacked.',
      'No de-duplication.',
      'No `lag()`.',
      'A fan-out subscription misses what was published while its connection was down; a group does not.',
      "A nack's delay is rounded up to two significant digits (1,234 ms waits 1,300 ms).",
      'A group queue stays in RabbitMQ after its last member leaves: delete it (`rabbitmqctl delete_queue`) when the group is retired.',
      "A subscription whose channel RabbitMQ closes while the connection stays up (a delivery held past the server's `consumer_timeout`, 30 minutes by default) stops receiving, with an `error` event, until the next reconnect; what it held goes back to the queue.",
      'Headers named `omnibus-*` are the driver\'s own.',
    ],
  },
  load: async () => (await import('./driver.js')).amqp,
});
