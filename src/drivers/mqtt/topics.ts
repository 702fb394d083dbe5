// Omnibus topics as MQTT topics: tokens joined by `/` instead of `.`, `*` as `+`, `>` as `#`.
// Core's grammar already keeps `/`, `+` and `#` out of every token, so the mapping is one to
// one; an MQTT topic that is not a valid Omnibus topic (an empty level, a space, a `.`) has no
// name on the bus.

import { assertTopic } from '../../core/topic.js';

/** `orders.created` -> `orders/created`. */
export function toMqttTopic(topic: string): string {
  return topic.replaceAll('.', '/');
}

/** `orders.*` -> `orders/+`, `orders.>` -> `orders/#`; in a group, the shared subscription `$share/<group>/<filter>`. */
export function toMqttFilter(pattern: string, group?: string): string {
  const filter = pattern
    .split('.')
    .map((token) => (token === '*' ? '+' : token === '>' ? '#' : token))
    .join('/');
  return group === undefined ? filter : `$share/${group}/${filter}`;
}

/** `orders/created` -> `orders.created`; undefined for an MQTT topic no Omnibus topic names. */
export function fromMqttTopic(mqttTopic: string): string | undefined {
  if (mqttTopic.includes('.')) return undefined;
  const topic = mqttTopic.replaceAll('/', '.');
  try {
    assertTopic(topic);
    return topic;
  } catch {
    return undefined;
  }
}
