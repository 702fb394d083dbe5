// The mqtt driver (MQTT 5 brokers: Mosquitto, EMQX, HiveMQ) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'mqtt',
  schemes: ['mqtt:', 'mqtts:'],
  example: 'mqtt://127.0.0.1:1883',
  // mqtt://[user:password@]host:port[?clientId=worker-1]; MQTT.js reads the credentials from the url.
  fromUrl: (url) => {
    const [address, query = ''] = url.split('?', 2);
    const clientId = new URLSearchParams(query).get('clientId');
    return clientId === null ? { url: address } : { url: address, clientId };
  },
  options: z.strictObject({
    url: z.string().min(1).optional(),
    clientOptions: object.optional(),
    clientId: z.string().min(1).optional(),
    sessionExpirySeconds: z.number().int().nonnegative().optional(),
    prefetch: count.optional(),
    publishTimeoutMs: ms.optional(),
    queueWhileDisconnected: z.boolean().optional(),
    connectTimeoutMs: ms.optional(),
    reconnectMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { mqtt: '>=5.0.0' },
  needs: 'the mqtt package (MQTT.js) and an MQTT 5 broker with shared subscriptions (Mosquitto >= 2)',
  semantics: {
    publish: "The broker's PUBACK arrived (QoS 1, within `publishTimeoutMs`, 5 s): the broker has taken the message and queued it for every subscription and session it matched. It is on disk only as far as the broker's persistence goes (Mosquitto writes its store every `autosave_interval` and on a graceful stop). While the connection is down a publish fails at once with `ConnectionError`, or waits for the reconnect with `queueWhileDisconnected`.",
    ack: "The PUBACK for the message was written to the connection it arrived on, after the handler settled it (the driver holds MQTT.js's automatic PUBACK back), so the broker drops it from the member's session. An ack that cannot be sent, because that connection is gone, rejects with `ConnectionError`, and the broker delivers the message again when the session resumes; a PUBACK still unsent when the process dies likewise brings it back to whoever resumes that session.",
    durability: "The broker's: a group member's session (its subscription, what is queued for it and what it has not acknowledged) lives for `sessionExpirySeconds` (1 hour) after it disconnects, across restarts of the process, and across broker restarts where the broker persists sessions (Mosquitto with `persistence true`; a crash loses what came after its last save). A subscription without a group ends its session when it closes.",
    ordering: 'Per connection: the broker delivers one publisher\'s messages on a topic in publish order, so a key keeps its order on a subscription with concurrency 1. Not across reconnects (what the broker sends again comes first) and not across a group\'s members.',
    dedupe: 'None: MQTT has no message id the broker checks, so a publish retried after a timeout can be delivered twice.',
    groups: "A shared subscription `$share/<group>/<filter>` per group and pattern; the broker gives each message to one member, round-robin. Each member keeps a session under the client id `<clientId>-<group>-<8 hex of sha256(pattern)>-<slot>` (`clientId` defaults to `omnibus-<hostname>`; the slot counts the group's members in the process from 0), so a member that reconnects, or a restarted process, gets what its session kept. The broker queues a member's share for it while it is offline.",
    replay: "None: `from` other than `'latest'` is refused, and there is no `read()`. Retained messages are not used.",
    ackDeadline: "This process: a delivery left unsettled past its ack deadline is handed to the subscription again; MQTT has no ack deadline of its own. `inProgress()` extends it. Only a new connection makes the broker send an unacknowledged message again.",
    maxPayload: "1 MiB by default (`maxPayloadBytes`), a guard: an MQTT packet may be up to 256 MiB, and Mosquitto's `message_size_limit` may say less.",
    delays: '`delayedDelivery` is false and a delay is refused with a `ConfigurationError`: MQTT 5 has no delayed publish (only some brokers add one).',
    lag: 'None: MQTT does not tell a client how many messages a session holds, so the bus leaves these groups out of its lag figures.',
    limits: [
      'No replay and no `read()`: a subscription gets what is published after it subscribed (a group member: after its session first subscribed).',
      'No ordering across reconnects, nor across the members of a group.',
      'No per-message nack delay at the broker: `nack(delayMs)` redelivers from this process, to the same subscription, as core does; a negative PUBACK would make the broker discard the message.',
      'No de-duplication.',
      "Persistent only as far as the broker's session store is: sessions expire after `sessionExpirySeconds`, and a broker without persistence forgets them on restart.",
      "A member that is offline keeps its share of the group's messages queued in its session until it returns or the session expires, when the broker drops them; they do not go to the other members.",
      'Closing a group member hands what it holds to an open member of its group in this process, and unsubscribes it, its connection staying open to pass on what the broker still sends for its session while that member is open; the last member in the process stays subscribed, so the broker keeps queuing for its slot. Across processes, what a closed member held waits in its session for its slot to be taken again.',
      'Mosquitto 2.0 brings a persisted session back from a broker restart without its shared subscription; each member subscribes again as it reconnects, and what is published to the group before the first member has reaches none of its members.',
      "Two processes in one group on one host need distinct `clientId`s; with the same one, the broker hands a session from one to the other. Where the broker says so (DISCONNECT 0x8E) the one pushed out stops with a `ConfigurationError` reported on the bus; Mosquitto 2.0.11 only closes its connection, so there the two keep taking the session from each other.",
      'An MQTT topic with a level that is not an Omnibus token (empty, or with a space or a `.`) reaches no subscriber: it is acknowledged, and reported as an error event.',
    ],
  },
  load: async () => (await import('./driver.js')).mqtt,
});
