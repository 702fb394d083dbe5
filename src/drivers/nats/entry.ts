// The nats driver (NATS JetStream or core NATS) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'nats',
  schemes: ['nats:'],
  example: 'nats://127.0.0.1:4222',
  fromUrl: (url) => {
    // nats://[user:password@]host:port[,host2:port][?mode=core&streamPrefix=APP&subjectPrefix=app]
    const [address, query = ''] = url.split('?', 2);
    const params = new URLSearchParams(query);
    const options: Record<string, unknown> = {};
    const servers: string[] = [];
    const connectOptions: Record<string, string> = {};
    for (const server of address.slice('nats://'.length).split(',')) {
      const at = server.lastIndexOf('@');
      if (at >= 0) {
        const [user, pass] = server.slice(0, at).split(':', 2).map(decodeURIComponent);
        if (pass === undefined) connectOptions.token = user;
        else Object.assign(connectOptions, { user, pass });
      }
      servers.push(`nats://${server.slice(at + 1)}`);
    }
    options.servers = servers.length === 1 ? servers[0] : servers;
    if (Object.keys(connectOptions).length > 0) options.connectOptions = connectOptions;
    for (const name of ['mode', 'streamPrefix', 'subjectPrefix']) {
      const value = params.get(name);
      if (value !== null) options[name] = value;
    }
    return options;
  },
  options: z.strictObject({
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
  peers: { '@nats-io/transport-node': '>=3.0.0', '@nats-io/jetstream': '>=3.0.0' },
  needs: 'the @nats-io/transport-node and @nats-io/jetstream packages and nats-server (`-js` for JetStream mode)',
  semantics: {
    publish: "JetStream: the stream's PubAck arrived (within `publishTimeoutMs`, 5 s), so the message is stored. Core mode: it was written to the client's outgoing buffer, and nothing confirms that the server got it.",
    ack: 'JetStream: the server confirmed that it recorded the ack (`+ACK` sent as a request; one reply confirms the acks of one event-loop turn to a consumer), so the message is not delivered again, also across a graceful restart of nats-server (the acks confirmed in the last second before the connection dropped are sent again, blind and best effort, once it is back, as nats-server 2.9 confirms acks while shutting down that it no longer writes); no answer within `ackTimeoutMs` rejects. A crash of nats-server can forget confirmed acks, as it writes consumer state asynchronously. Core mode: completes at once and tells the server nothing.',
    durability: 'JetStream: file-backed streams (those the driver creates), replicated as `stream: { num_replicas }` says; consumers and their positions are the server\'s. Core mode: nothing is kept, and a message in a process that dies before handling it is lost.',
    ordering: 'Per stream: one consumer delivers through one inbox in stream order, so a topic keeps its order, and a key with it. A wildcard over several streams gets each in order, with no order across them. Core mode: per publisher, as NATS delivers.',
    dedupe: "JetStream: the id travels as `Nats-Msg-Id`, and a stream stores an id once within its `duplicate_window`: `dedupeWindowMs` (120 s) for the streams the driver creates, the stream's own for one that already captured the subject. Core mode: none.",
    groups: "JetStream: a durable pull consumer per stream named `<group>_<first 10 hex of sha256(pattern)>`, filtered by the pattern, with at most `maxAckPending` (1,000) unacked. `from` applies when it is created; it resumes where it was across process and server restarts, and the driver never deletes it. Core mode: NATS queue groups, keeping nothing.",
    replay: "JetStream: `from: 'earliest' | { seq } | { time }` (`seq` is the stream sequence, so on a wildcard it applies to each stream) and `read()` reach what the stream keeps; streams the driver creates keep everything until `stream` limits (`max_age`, `max_msgs`, `max_bytes`) say otherwise. Core mode: none.",
    ackDeadline: "JetStream: the consumer's `ack_wait`, kept by the server, so an unsettled message goes to any member; `inProgress()` is `+WPI`, and `attempt` is the server's delivery count. Core mode: none; `nack()` delivers again from the process.",
    maxPayload: "nats-server's default `max_payload` (1 MiB) less 8 KiB for headers; raise `maxPayloadBytes` and the server's `max_payload` together.",
    delays: "JetStream mode: a delayed message is stored at once in the driver's own stream `<streamPrefix>-delayed` (file-backed, work-queue retention), and a mover, one durable consumer shared by every process on the same `streamPrefix`, stores it on its topic when due and only then acks it. Until about a second before due the mover naks it with the remaining delay, so the server holds it; then it waits in the process, in due order (equal due times in publish order). It arrives no earlier than due and, with a mover running, within tens of milliseconds of it on a quiet machine (the conformance bound is 2 s); with every process gone it is delivered once one starts again. A move repeated after a crash keeps the message's `Nats-Msg-Id`, so the dedupe window stores it once. `nack({ delayMs })` uses JetStream's own nak with delay. Core mode: none (`delayedDelivery` false).",
    lag: "JetStream: `num_pending + num_ack_pending` (matching messages not yet delivered, plus delivered and unacked) of the group's consumer on every stream the pattern reads, creating none; a stream where the group has no consumer yet counts 0. Core mode has no `lag()`, as nothing is kept to count: its groups are left out.",
    limits: [
      'Core mode: at most once, with no replay, de-duplication, ack deadline or lag.',
      'A crash of nats-server (SIGKILL, power loss; not a graceful stop) can forget confirmed acks: those messages are delivered again.',
      'nats-server 2.9 stopped (SIGTERM) while acks stream in can, rarely, come back without the consumer\'s state: its messages are delivered again from its start position, with a delivery count of 1.',
      '`nack`, `inProgress` and `reject` are sent without waiting for an answer: a lost nack means redelivery after the ack deadline.',
      'A message the server routes to an inbox just as it processes that inbox\'s unsubscribe comes back only after the ack deadline.',
      'A pattern whose leading tokens are wildcards cannot name a stream to create: subscribing to one that no stream captures fails with `ConfigurationError`.',
    ],
  },
  load: async () => (await import('./driver.js')).nats,
});
