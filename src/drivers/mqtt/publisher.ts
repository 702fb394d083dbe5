// Publishing at QoS 1: a publish resolves on the broker's PUBACK. While the connection is down
// a publish fails at once with ConnectionError, or, with `queueWhileDisconnected`, waits for
// the reconnect; either way no longer than `publishTimeoutMs`, kept by one timer for all of
// them rather than one each.

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

interface Waiting {
  topic: string;
  deadline: number;
  /** MQTT.js's packet id, unless it queued the publish behind its store. */
  messageId: number | undefined;
  reject(error: unknown): void;
}

export class Publisher {
  private readonly waiting = new Set<Waiting>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly client: MqttClient,
    private readonly settings: PublishSettings,
  ) {}

  publish(batch: WireMessage[]): Promise<void> {
    if (!this.client.connected && !this.settings.queueWhileDisconnected) {
      return Promise.reject(
        failure('connection', `the connection to the MQTT broker at ${this.settings.url} is down (reconnecting); publish again once it is back, or set queueWhileDisconnected`, { topic: batch[0]?.topic }),
      );
    }
    if (batch.length === 1) return this.publishOne(batch[0]);
    return Promise.all(batch.map((wire) => this.publishOne(wire))).then(() => undefined);
  }

  /** Stops the deadline timer; what still waits fails with `error`. */
  close(error: unknown): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const waiting of this.waiting) waiting.reject(error);
    this.waiting.clear();
  }

  private publishOne(wire: WireMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const before = this.client.getLastMessageId();
      const waiting: Waiting = { topic: wire.topic, deadline: Date.now() + this.settings.publishTimeoutMs, messageId: undefined, reject };
      this.waiting.add(waiting);
      this.client.publish(toMqttTopic(wire.topic), asBuffer(wire.body), toPublishOptions(wire), (error) => {
        if (!this.waiting.delete(waiting)) return;
        if (error === undefined || error === null) resolve();
        else reject(classify(error, wire.topic, this.settings.url));
      });
      const after = this.client.getLastMessageId();
      if (after !== before) waiting.messageId = after;
      this.timer ??= setInterval(() => this.expire(), Math.max(10, Math.min(1_000, this.settings.publishTimeoutMs / 4)));
    });
  }

  private expire(): void {
    const now = Date.now();
    for (const waiting of this.waiting) {
      if (waiting.deadline > now) continue;
      this.waiting.delete(waiting);
      // Not sent again once the caller was told it failed (it may have reached the broker).
      if (waiting.messageId !== undefined) this.client.removeOutgoingMessage(waiting.messageId);
      waiting.reject(
        failure('connection', `the MQTT broker at ${this.settings.url} did not acknowledge '${waiting.topic}' within ${this.settings.publishTimeoutMs} ms; it may have it even so, so publishing again may deliver it twice`, { topic: waiting.topic }),
      );
    }
    if (this.waiting.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
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
