// The MQTT driver: MQTT 5 over MQTT.js at QoS 1. Topics are MQTT topics with `/` for `.`, so
// plain MQTT clients publish to and read from the same topics; groups are shared
// subscriptions whose members keep broker sessions under stable client ids. MQTT.js is loaded
// only when used.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { IClientOptions, MqttClient } from 'mqtt';
import { ClosedError, ConfigurationError, defineDriver, type Capabilities, type Deliver, type Driver, type DriverEvent, type DriverSubscription, type SubscribeSpec, type WireMessage } from '../../core/index.js';
import { ConnectOnce } from '../../driver-kit/connect-once.js';
import { LinkState } from '../../driver-kit/link-state.js';
import { failure } from '../../driver-kit/failure.js';
import { Observers } from '../../driver-kit/observers.js';
import { endClient, firstConnection, openClient, startClient, watch, type ConnectSettings, type Session } from './connection.js';
import { GroupMembers, memberClientId } from './members.js';
import { Publisher, type PublishSettings } from './publisher.js';
import { MqttSubscription, type SubscriptionHost } from './subscription.js';

export interface MqttOptions {
  /** Broker address, `mqtt://[user:password@]host:port` (`mqtts://`, `ws://`, `wss://` too). Default `'mqtt://127.0.0.1:1883'`. */
  url?: string;
  /** More MQTT.js options for every client the driver opens: credentials, TLS, keepalive. Default none. */
  clientOptions?: IClientOptions;
  /**
   * This process's name among a group's members: a member's MQTT client id is
   * `<clientId>-<group>-<8 hex of sha256(pattern)>-<slot>`, slot 0 for the first member of that
   * group in the process, so a process that restarts with the same `clientId` resumes its
   * members' sessions and gets what they missed. Two processes in one group need two names,
   * or the broker hands one's session to the other. Default `'omnibus-<hostname>'`.
   */
  clientId?: string;
  /** How long the broker keeps a member's session (its subscription and unacknowledged messages) after it disconnects. Default 3,600 s. */
  sessionExpirySeconds?: number;
  /** Unacknowledged messages the broker may have out to one subscription (MQTT 5 Receive Maximum). Default 100. */
  prefetch?: number;
  /** How long a publish waits for the broker's PUBACK before a ConnectionError. Default 5,000 ms. */
  publishTimeoutMs?: number;
  /** While the connection is down, publishes wait for the reconnect (up to `publishTimeoutMs`) instead of failing at once with ConnectionError. Default false. */
  queueWhileDisconnected?: boolean;
  /** How long connecting may take before a ConnectionError. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** How long MQTT.js waits between reconnect attempts. Default 500 ms. */
  reconnectMs?: number;
  /** Largest payload accepted; MQTT allows up to 256 MiB a packet, and Mosquitto's `message_size_limit` may say less. Default 1 MiB. */
  maxPayloadBytes?: number;
}

export const DEFAULT_URL = 'mqtt://127.0.0.1:1883';

/** Characters a group cannot hold in `$share/<group>/…` or a client id. */
const GROUP_FORBIDDEN = /[/+#\s]/;

/** MQTT 5 DISCONNECT reason: another client connected with this one's client id. */
const SESSION_TAKEN_OVER = 0x8e;

class MqttDriver implements Driver {
  readonly name = 'mqtt';
  readonly capabilities: Capabilities;
  private readonly settings: ConnectSettings;
  private readonly publishing: PublishSettings;
  private readonly clientId: string;
  private readonly observers = new Observers();
  private readonly link = new LinkState(this.name, (event) => this.observers.emit(event));
  private readonly publisher = new ConnectOnce((topic: string | undefined) => this.connectPublisher(topic));
  private readonly members = new GroupMembers<MqttSubscription>();
  private readonly subscriptions = new Set<MqttSubscription>();
  private readonly host: SubscriptionHost;
  private closed = false;

  constructor(private readonly options: MqttOptions) {
    const url = options.url ?? DEFAULT_URL;
    this.settings = {
      url,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      reconnectMs: options.reconnectMs ?? 500,
      clientOptions: options.clientOptions ?? {},
    };
    this.publishing = { url, publishTimeoutMs: options.publishTimeoutMs ?? 5_000, queueWhileDisconnected: options.queueWhileDisconnected ?? false };
    this.clientId = options.clientId ?? `omnibus-${hostname()}`;
    this.capabilities = {
      persistent: true,
      groups: true,
      replay: false,
      dedupe: false,
      ordering: 'key',
      nativeWildcards: true,
      maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024,
      ackDeadline: true,
      delayedDelivery: false,
    };
    this.host = {
      url,
      report: (error) => this.observers.emit({ type: 'error', driver: this.name, error }),
      peer: (member) => (member.spec.group === undefined ? undefined : this.members.openPeer(member.spec.group, member.spec.pattern, member)),
      closed: (member) => {
        if (member.spec.group === undefined) return;
        for (const other of this.members.of(member.spec.group, member.spec.pattern)) if (other !== member) other.finishIfIdle();
      },
      gone: (member) => {
        this.subscriptions.delete(member);
        this.link.back(member);
        if (member.spec.group !== undefined) this.members.leave(member.spec.group, member.spec.pattern, member);
      },
    };
  }

  observe(listener: (event: DriverEvent) => void): void {
    this.observers.add(listener);
  }

  /** Connects the publishing client now; rejects with ConnectionError or RefusedError. */
  async ready(): Promise<void> {
    if (this.closed) throw new ClosedError('the mqtt driver is closed');
    const { client } = await this.publisher.get(undefined);
    if (!client.connected) throw failure('connection', `the connection to the MQTT broker at ${this.settings.url} is down; reconnecting`);
  }

  async publish(batch: WireMessage[]): Promise<void> {
    if (this.closed) throw new ClosedError('the mqtt driver is closed', { topic: batch[0]?.topic });
    const publisher = await this.publisher.get(batch[0]?.topic);
    return publisher.publish(batch);
  }

  async subscribe(spec: SubscribeSpec, deliver: Deliver): Promise<DriverSubscription> {
    if (this.closed) throw new ClosedError('the mqtt driver is closed', { topic: spec.pattern });
    const { group, pattern } = spec;
    if (group !== undefined && (group === '' || GROUP_FORBIDDEN.test(group))) {
      throw new ConfigurationError(`group '${group}' cannot name an MQTT shared subscription: use a non-empty name without '/', '+', '#' or spaces`, { topic: pattern });
    }
    const slot = group === undefined ? 0 : await this.members.freeSlot(group, pattern);
    const session: Session =
      group === undefined
        ? { clientId: `omnibus-${randomUUID()}`, expirySeconds: this.sessionExpiry(), receiveMaximum: this.prefetch() }
        : { clientId: memberClientId(this.clientId, group, pattern, slot), expirySeconds: this.sessionExpiry(), receiveMaximum: this.prefetch() };
    const client = await startClient(this.settings, session);
    const subscription = new MqttSubscription(client, spec, slot, deliver, this.host);
    try {
      await firstConnection(client, this.settings, session, pattern);
      if (this.closed) throw new ClosedError('the mqtt driver is closed', { topic: pattern });
      await subscription.start();
      this.watchLink(client, subscription, session.clientId);
    } catch (error) {
      await subscription.finish();
      throw error;
    }
    this.subscriptions.add(subscription);
    if (group !== undefined) this.members.join(group, pattern, subscription);
    return subscription;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.finish()));
    const publisher = await this.publisher.current?.catch(() => undefined);
    if (publisher !== undefined) {
      this.link.back('publisher');
      await endClient(publisher.client);
      publisher.close(new ClosedError('the mqtt driver closed before the broker acknowledged this publish'));
    }
  }

  private async connectPublisher(topic: string | undefined): Promise<Publisher> {
    const client = await openClient(this.settings, { clientId: `omnibus-publisher-${randomUUID()}`, expirySeconds: 0 }, topic);
    if (this.closed) {
      await endClient(client);
      throw new ClosedError('the mqtt driver is closed', { topic });
    }
    watch(client, (error) => this.link.lost('publisher', error), () => this.link.back('publisher'));
    return new Publisher(client, this.publishing);
  }

  /**
   * A subscription's outages go to the link state. Two members with one client id would take
   * the session from each other forever: where the broker says so (MQTT 5's DISCONNECT 0x8E),
   * the one pushed out stops, loudly. Mosquitto 2.0 closes the connection without a word.
   */
  private watchLink(client: MqttClient, subscription: MqttSubscription, clientId: string): void {
    watch(client, (error) => this.link.lost(subscription, error), () => this.link.back(subscription));
    client.on('disconnect', (packet) => {
      if (packet.reasonCode !== SESSION_TAKEN_OVER) return;
      this.host.report(
        new ConfigurationError(`another MQTT client connected as '${clientId}' and took this subscription's session; give each process of a group its own clientId option. This subscription stopped`, { topic: subscription.spec.pattern }),
      );
      void subscription.finish();
    });
  }

  private sessionExpiry(): number {
    return this.options.sessionExpirySeconds ?? 3_600;
  }

  private prefetch(): number {
    return this.options.prefetch ?? 100;
  }
}

/** The MQTT driver; see {@link MqttOptions} for the defaults. */
export const mqtt = defineDriver((options: MqttOptions = {}): Driver => new MqttDriver(options));
