// `nack(delayMs)` without timers: the message goes, as a new persistent message, to a delay
// queue whose TTL is the delay, and RabbitMQ dead-letters it back to the queue it came from
// once the TTL runs out, so it survives a restart of the process and of the broker.
//
// Delay queues are shared: one per delay, rounded up to two significant digits (1,234 ms
// waits 1,300 ms) so a few dozen serve any backoff. Every message in one has the same TTL,
// so each expires at the head, on time. A headers exchange routes to them by delay while the
// routing key stays the target queue's name, which dead-lettering through the default
// exchange then uses. An unused delay queue removes itself (`x-expires`) a minute after the
// last message it can hold came due.

import type { ConfirmChannel } from 'amqplib';
import type { WireMessage } from '../../core/index.js';
import { HEADER, properties } from './wire.js';

/** How long an unused delay queue outlives the last delay it holds. */
const LINGER_MS = 60_000;

/** The delay a message waits in its delay queue: `delayMs` rounded up to two significant digits. */
export function roundedDelay(delayMs: number): number {
  if (delayMs < 100) return Math.max(1, Math.ceil(delayMs));
  const step = 10 ** (Math.floor(Math.log10(delayMs)) - 1);
  return Math.ceil(delayMs / step) * step;
}

/** The name of the headers exchange in front of the delay queues of `exchange`. */
export const delaysExchange = (exchange: string) => `${exchange}.delays`;

/** Puts `wire` on the delay queue for `delayMs`, to come back to `queue` as `attempt`; resolves once RabbitMQ confirmed it. */
export async function redeliverLater(
  channel: ConfirmChannel,
  exchange: string,
  queue: string,
  message: { wire: WireMessage; attempt: number },
  delayMs: number,
  send: (channel: ConfirmChannel, exchange: string, routingKey: string, body: Uint8Array, options: ReturnType<typeof properties>) => Promise<void>,
): Promise<void> {
  const ms = roundedDelay(delayMs);
  const front = delaysExchange(exchange);
  const name = `${front}.${ms}`;
  // Declared again each time: that also restarts its x-expires clock, so it outlives what it holds.
  await channel.assertQueue(name, { durable: true, arguments: { 'x-message-ttl': ms, 'x-dead-letter-exchange': '', 'x-expires': ms + LINGER_MS } });
  await channel.bindQueue(name, front, '', { 'x-match': 'all', [HEADER.delay]: String(ms) });
  const { wire, attempt } = message;
  await send(channel, front, queue, wire.body, properties(wire, { [HEADER.topic]: wire.topic, [HEADER.attempt]: attempt + 1, [HEADER.delay]: String(ms) }));
}
