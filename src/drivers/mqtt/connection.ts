// One MQTT.js client connected for the first time: its first CONNACK, or the typed error for
// why there was none. After that MQTT.js reconnects by itself, and `watch` turns its comings
// and goings into the driver's link state.

import type { IClientOptions, MqttClient } from 'mqtt';
import { failure } from '../../driver-kit/failure.js';
import { loadPeer } from '../../driver-kit/peer.js';

type Mqtt = typeof import('mqtt');

/** CONNACK reason codes that will not change by trying again: bad credentials, not authorized, banned, bad client id. */
const REFUSALS = new Set([4, 5, 133, 134, 135, 138, 140]);

export interface Session {
  clientId: string;
  /** Keep the broker's session across connections (`cleanStart: false`), for this long after a disconnect. */
  expirySeconds: number;
  /** Unacknowledged QoS 1 messages the broker may have out to this client (MQTT 5 Receive Maximum). */
  receiveMaximum?: number;
}

export interface ConnectSettings {
  url: string;
  connectTimeoutMs: number;
  reconnectMs: number;
  /** Passed to MQTT.js as they are: credentials, TLS, keepalive. */
  clientOptions: IClientOptions;
}

export function loadMqtt(): Promise<Mqtt> {
  return loadPeer<Mqtt>('mqtt', 'mqtt', () => import('mqtt'), ' (>=5.0.0)');
}

/** Connects `session`'s client; rejects with ConnectionError or RefusedError, leaving nothing open. */
export async function openClient(settings: ConnectSettings, session: Session, topic?: string): Promise<MqttClient> {
  const client = await startClient(settings, session);
  await firstConnection(client, settings, session, topic);
  return client;
}

/** A client connecting in the background: handlers set on it now see what follows the first CONNACK (a resumed session's messages). */
export async function startClient(settings: ConnectSettings, session: Session): Promise<MqttClient> {
  const mqtt = await loadMqtt();
  return mqtt.connect(settings.url, {
    protocolVersion: 5,
    clientId: session.clientId,
    clean: session.expirySeconds === 0,
    connectTimeout: settings.connectTimeoutMs,
    reconnectPeriod: settings.reconnectMs,
    // Subscriptions subscribe again on every reconnect themselves (subscription.ts).
    resubscribe: false,
    ...settings.clientOptions,
    properties: {
      sessionExpiryInterval: session.expirySeconds,
      ...(session.receiveMaximum !== undefined && { receiveMaximum: session.receiveMaximum }),
      ...settings.clientOptions.properties,
    },
  });
}

/** Resolves on the client's first CONNACK; otherwise ends it and rejects with ConnectionError or RefusedError. */
export async function firstConnection(client: MqttClient, settings: ConnectSettings, session: Session, topic?: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => {
        client.off('connect', succeed);
        reject(error);
      };
      const succeed = () => {
        client.off('error', fail).off('close', closed);
        resolve();
      };
      const closed = () => fail(new Error('the connection closed before the broker answered'));
      client.once('connect', succeed).once('error', fail).once('close', closed);
    });
  } catch (cause) {
    client.end(true);
    const code = (cause as { code?: unknown }).code;
    const message = (cause as Error)?.message ?? String(cause);
    if (typeof code === 'number' && REFUSALS.has(code)) {
      throw failure('refused', `the MQTT broker at ${settings.url} refused client '${session.clientId}': ${message}; check the username and password in the url or clientOptions, and the broker's ACL`, { topic, cause });
    }
    throw failure('connection', `cannot connect to the MQTT broker at ${settings.url}: ${message}; check that it runs there (mosquitto -c /etc/mosquitto/mosquitto.conf)`, { topic, cause });
  }
  // Errors after the first connection are reconnects' business; a listener keeps MQTT.js from throwing them.
  client.on('error', () => {});
}

/** Calls `lost` when the connection drops and `back` when MQTT.js reconnected; not while ending. */
export function watch(client: MqttClient, lost: (error?: unknown) => void, back: () => void): void {
  let lastError: unknown;
  client.on('error', (error) => (lastError = error));
  client.on('close', () => {
    if (!client.disconnecting) lost(lastError);
  });
  client.on('connect', () => {
    lastError = undefined;
    back();
  });
}

/** Disconnects gracefully (what is written is flushed), keeping or ending the broker's session. */
export function endClient(client: MqttClient, endSession = false): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) {
      client.end(true, {}, () => resolve());
      return;
    }
    client.end(false, endSession ? { properties: { sessionExpiryInterval: 0 } } : {}, () => resolve());
  });
}
