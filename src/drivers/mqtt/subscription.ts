// One subscription: an MQTT client of its own at QoS 1 (a group member's on its shared
// subscription, under a stable client id), whose PUBACKs wait for the message to be settled.
// MQTT.js would acknowledge each message as it arrives, so the driver takes the PUBACK over:
// `handleMessage` answers with an error, which keeps MQTT.js from sending one, and `ack()`
// sends it. Nacks and lapsed ack deadlines redeliver from this process (LocalDeliveries): MQTT
// has no negative acknowledgement that brings a message back.

import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Deliver, Delivery, DriverSubscription, SubscribeSpec, WireMessage } from '../../core/driver.js';
import { LocalDeliveries } from '../../core/local-deliveries.js';
import { matchesPattern } from '../../core/topic.js';
import { failure } from '../../driver-kit/failure.js';
import { Pump } from '../../driver-kit/pump.js';
import { TurnBatches } from '../../driver-kit/turn.js';
import { endClient } from './connection.js';
import type { GroupMember } from './members.js';
import { fromMqttTopic, toMqttFilter } from './topics.js';
import { fromPacket } from './wire.js';

/** What `handleMessage` answers so MQTT.js sends no PUBACK of its own. */
const HELD = new Error('the omnibus mqtt driver acknowledges this message when it is settled');

/** Where a received QoS 1 message came from: its packet id on one connection of the client. */
interface Origin {
  messageId: number;
  connection: number;
}

export interface SubscriptionHost {
  url: string;
  /** A background error for the bus (a message whose topic the bus cannot name). */
  report(error: unknown): void;
  /** An open member of this member's group in this process, to hand over to once it closed. */
  peer(member: MqttSubscription): MqttSubscription | undefined;
  /** The member closed: closed members of its group that waited for an open one may go now. */
  closed(member: MqttSubscription): void;
  /** The member's client is gone: it leaves its group and the driver's list. */
  gone(member: MqttSubscription): void;
}

export class MqttSubscription extends Pump implements GroupMember, DriverSubscription {
  open = true;
  private readonly filter: string;
  private readonly deliveries: LocalDeliveries;
  /** Received, not yet handed over: what arrives while core's buffer is full. */
  private readonly pending: WireMessage[] = [];
  /** Received at QoS 1 and not yet acknowledged, with where from: the client stays until each is, or is stranded. */
  private readonly outstanding = new Map<WireMessage, Origin>();
  /** What each MQTT topic seen is on the bus, and whether it is this subscription's: the same few topics come again and again. */
  private readonly names = new Map<string, { topic: string | undefined; ours: boolean }>();
  /** Messages a closed member could give nobody: they stay unacknowledged in the broker's session. */
  private readonly stranded = new WeakSet<WireMessage>();
  /** Counts the client's connections: a packet id names a message only on its own connection. */
  private connection = 0;
  private finishing: Promise<void> | undefined;
  private readonly pubacks = new TurnBatches<number, number>((connection, messageIds) => this.writePubacks(connection, messageIds));
  /** Whether the filter should be subscribed: from `start()` until an unsubscribe. */
  private subscribed = false;

  constructor(
    private readonly client: MqttClient,
    readonly spec: SubscribeSpec,
    readonly slot: number,
    readonly deliver: Deliver,
    private readonly host: SubscriptionHost,
  ) {
    super(host.report);
    this.filter = toMqttFilter(spec.pattern, spec.group);
    this.deliveries = new LocalDeliveries(spec.ackDeadlineMs, (delivery) => this.route(delivery), { settled: (message) => this.acknowledge(message) });
    // Set before the first CONNACK: a resumed session's messages follow it at once.
    client.on('connect', () => {
      // Again on every reconnect, even to a session the broker kept (MQTT.js's own resubscribe
      // is off): Mosquitto 2.0 restores a persisted session without its shared subscriptions,
      // and subscribing twice changes nothing.
      if (this.connection++ > 0 && this.subscribed) void this.subscribe().catch((error) => this.host.report(error));
    });
    client.handleMessage = (packet, callback) => {
      this.receive(packet as IPublishPacket);
      callback(HELD);
    };
  }

  /** Subscribes at QoS 1; rejects with the typed error if the broker refuses the filter. */
  async start(): Promise<void> {
    await this.subscribe();
    this.subscribed = true;
  }

  private async subscribe(): Promise<void> {
    // The map form with `resubscribe`, or MQTT.js skips a filter it already holds.
    const granted = await this.client.subscribeAsync({ [this.filter]: { qos: 1 }, resubscribe: true } as unknown as Parameters<MqttClient['subscribeAsync']>[0]);
    const code = granted[0]?.qos;
    if (code !== 1) {
      throw failure('refused', `the MQTT broker at ${this.host.url} refused the subscription '${this.filter}' (reason code ${code}); check its ACL and that it allows shared subscriptions`, { topic: this.spec.pattern });
    }
  }

  /**
   * Stops handing messages to this subscription. A group member with an open peer here
   * unsubscribes, so the broker sends the group's messages to the others, and hands what it
   * still holds to that peer; the last one keeps its subscription, so the broker keeps the
   * group's messages in its session until a member takes its slot again. Its client goes once
   * everything it held is settled or can be given to nobody, and no peer is open.
   */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    if (this.spec.group === undefined || this.host.peer(this) !== undefined) {
      this.subscribed = false;
      await this.client.unsubscribeAsync(this.filter).catch(() => undefined);
    }
    this.host.closed(this);
    this.finishIfIdle();
  }

  finish(): Promise<void> {
    this.open = false;
    this.finishing ??= (async () => {
      await this.stop();
      this.deliveries.close();
      await this.pubacks.flush().catch(() => undefined);
      // A fan-out subscription's session ends with it; a group member's stays for its slot.
      await endClient(this.client, this.spec.group === undefined);
      this.host.gone(this);
    })();
    return this.finishing;
  }

  /** Hands over everything received, waiting only while core's buffer is full. */
  protected async pass(): Promise<boolean> {
    let wire: WireMessage | undefined;
    while ((wire = this.pending.shift()) !== undefined) {
      const room = this.deliveries.hand(wire);
      if (room !== undefined) await room;
    }
    return false;
  }

  private receive(packet: IPublishPacket): void {
    if (this.finishing !== undefined) return;
    const { topic, ours } = this.name(packet.topic);
    if (topic === undefined) {
      this.host.report(failure('bad-data', `a message on MQTT topic '${packet.topic}' matched '${this.filter}', but no Omnibus topic names it (levels must be letters, digits, '_', '-', ':'); it was acknowledged and dropped`, { topic: this.spec.pattern }));
    }
    const origin = packet.qos > 0 && packet.messageId !== undefined ? { messageId: packet.messageId, connection: this.connection } : undefined;
    if (!ours || topic === undefined) {
      if (origin !== undefined) void this.sendPuback(origin).catch(() => undefined);
      return;
    }
    const wire = fromPacket(topic, packet);
    if (origin !== undefined) this.outstanding.set(wire, origin);
    this.pending.push(wire);
    this.wake();
  }

  private name(mqttTopic: string): { topic: string | undefined; ours: boolean } {
    let name = this.names.get(mqttTopic);
    if (name === undefined) {
      const topic = fromMqttTopic(mqttTopic);
      // `#` also matches its parent level (`orders/#` matches `orders`), which `>` does not.
      name = { topic, ours: topic !== undefined && matchesPattern(this.spec.pattern, topic) };
      // A wildcard over endless topics must not grow it without bound.
      if (this.names.size >= 1_024) this.names.clear();
      this.names.set(mqttTopic, name);
    }
    return name;
  }

  /** Core's subscription while open; once closed, an open peer's, or nobody's. */
  private route(delivery: Delivery): void | Promise<void> {
    const taker = this.open ? this : this.host.peer(this);
    if (taker !== undefined) return taker.deliver(delivery);
    this.stranded.add(delivery.message);
    this.finishIfIdle();
  }

  private acknowledge(message: WireMessage): Promise<void> | void {
    const origin = this.outstanding.get(message);
    if (origin === undefined) return;
    this.outstanding.delete(message);
    // A fan-out subscription that ended took its session along: nothing comes back to ack.
    if (this.finishing !== undefined && this.spec.group === undefined) return;
    const sent = this.sendPuback(origin);
    this.finishIfIdle();
    return sent;
  }

  private sendPuback(origin: Origin): Promise<void> {
    if (origin.connection !== this.connection || !this.client.connected) return Promise.reject(this.staleAck());
    return this.pubacks.add(origin.connection, origin.messageId);
  }

  /** The PUBACKs of one event-loop turn, corked into one socket write. */
  private writePubacks(connection: number, messageIds: number[]): Promise<void> {
    if (connection !== this.connection || !this.client.connected) return Promise.reject(this.staleAck());
    // MQTT.js has no public call for a PUBACK sent later; _sendPacket writes one packet.
    const client = this.client as unknown as { _sendPacket(packet: object, callback: (error?: Error) => void): void };
    const { stream } = this.client;
    return new Promise<void>((resolve, reject) => {
      let left = messageIds.length;
      const written = (error?: Error) => {
        if (error) reject(failure('connection', `the PUBACK to the MQTT broker at ${this.host.url} failed: ${error.message}`, { topic: this.spec.pattern, cause: error }));
        else if (--left === 0) resolve();
      };
      stream.cork();
      for (const messageId of messageIds) client._sendPacket({ cmd: 'puback', messageId, reasonCode: 0 }, written);
      stream.uncork();
    });
  }

  private staleAck(): Error {
    return failure('connection', `the connection to the MQTT broker at ${this.host.url} that delivered this message is gone; the broker delivers it again when the session resumes`, { topic: this.spec.pattern });
  }

  /**
   * A closed member goes once what it holds is settled or stranded, but not while a peer is
   * open: the broker may still send what it had queued for this session, which only this
   * client can take and pass on.
   */
  finishIfIdle(): void {
    if (this.open || this.finishing !== undefined || this.host.peer(this) !== undefined) return;
    for (const message of this.outstanding.keys()) if (!this.stranded.has(message)) return;
    void this.finish();
  }
}
