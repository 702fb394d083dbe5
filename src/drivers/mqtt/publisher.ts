// Publishing at QoS 1: a publish resolves on the broker's PUBACK. While the connection is down
// a publish fails at once with ConnectionError, or, with `queueWhileDisconnected`, waits for
// the reconnect; either way no longer than `publishTimeoutMs`.

import type { MqttClient } from 'mqtt';
import type { WireMessage } from '../../core/driver.js';
import { failure } from '../../driver-kit/failure.js';
import { toMqttTopic } from './topics.js';
import { toPublishOptions } from './wire.js';

/** PUBACK reason codes for a message the broker will never take as it is. */
const BAD_MESSAGE = new Set([0x90, 0x95, 0x99]);

export interface PublishSettings {
  url: string;
  publishTimeoutMs: number;
  queueWhileDisconnected: boolean;
}

export function publishBatch(client: MqttClient, batch: WireMessage[], settings: PublishSettings): Promise<void> {
  if (!client.connected && !settings.queueWhileDisconnected) {
    return Promise.reject(
      failure('connection', `the connection to the MQTT broker at ${settings.url} is down (reconnecting); publish again once it is back, or set queueWhileDisconnected`, { topic: batch[0]?.topic }),
    );
  }
  return Promise.all(batch.map((wire) => publishOne(client, wire, settings))).then(() => undefined);
}

function publishOne(client: MqttClient, wire: WireMessage, settings: PublishSettings): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const before = client.getLastMessageId();
    const timer = setTimeout(() => {
      // Not sent again once the caller was told it failed (it may have reached the broker).
      if (messageId !== before) client.removeOutgoingMessage(messageId);
      reject(failure('connection', `the MQTT broker at ${settings.url} did not acknowledge '${wire.topic}' within ${settings.publishTimeoutMs} ms; it may have it even so, so publishing again may deliver it twice`, { topic: wire.topic }));
    }, settings.publishTimeoutMs);
    client.publish(toMqttTopic(wire.topic), asBuffer(wire.body), toPublishOptions(wire), (error) => {
      clearTimeout(timer);
      if (error === undefined || error === null) return resolve();
      reject(classify(error, wire.topic, settings.url));
    });
    // Assigned during the call, unless MQTT.js queued the publish behind its store.
    const messageId = client.getLastMessageId();
  });
}

/** The same bytes as a Buffer, which MQTT.js takes, without copying them. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function classify(error: Error, topic: string, url: string): Error {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && BAD_MESSAGE.has(code)) return failure('bad-data', `the MQTT broker at ${url} refused '${topic}': ${error.message}`, { topic, cause: error });
  if (typeof code === 'number' && code >= 0x80) return failure('refused', `the MQTT broker at ${url} refused '${topic}': ${error.message}; check its ACL for this topic`, { topic, cause: error });
  return failure('connection', `publishing '${topic}' to the MQTT broker at ${url} failed: ${error.message}`, { topic, cause: error });
}
