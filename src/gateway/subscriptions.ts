// Opens a bus subscription on a client's behalf: grant and tenant checks, resume after a
// seq (core's `from: { seq }` is inclusive, so the equal seq is skipped), and the reply's
// `recovered` flag.

import type { Bus } from '../core/bus.js';
import type { From } from '../core/driver.js';
import { errorMessage } from '../core/errors.js';
import type { Message } from '../core/message.js';
import type { Subscription } from '../core/subscription.js';
import { assertPattern, assertTopic, matchesPattern } from '../core/topic.js';
import type { Principal } from './auth.js';
import { FrameError } from './frames.js';

export interface SubscribeRequest {
  pattern: string;
  group?: string;
  from?: From;
  /** Resume: deliver what came after this seq, in order, without it. */
  after?: string;
  maxAttempts?: number;
  deadLetter?: string;
  ackDeadlineMs?: number;
}

export interface Opened {
  subscription: Subscription;
  /** False when a resume was asked for and the bus keeps no history to resume from. */
  recovered: boolean;
}

/**
 * Called per message. `skipped` is true for the resume position itself; `gap` carries the
 * seq actually received first when the resume position is no longer held.
 */
export type Receive = (message: Message, topic: string, gap: string | undefined) => void | Promise<void>;

/** Whether every driver behind the bus keeps history. */
export function busReplays(bus: Bus): boolean {
  return bus.drivers.every(({ driver }) => driver.capabilities.replay);
}

export function checkPattern(principal: Principal, request: SubscribeRequest): void {
  try {
    assertPattern(request.pattern);
    if (request.deadLetter !== undefined) assertTopic(request.deadLetter);
  } catch (error) {
    throw new FrameError('INVALID_TOPIC', errorMessage(error), request.pattern);
  }
  if (!principal.canSubscribe(request.pattern)) {
    throw new FrameError(
      'FORBIDDEN',
      `not allowed to subscribe to '${request.pattern}'; this token may subscribe to: ${principal.grants.subscribe.join(', ') || 'nothing'}`,
      request.pattern,
    );
  }
  if (request.deadLetter !== undefined && !principal.canPublish(request.deadLetter)) {
    throw new FrameError('FORBIDDEN', `not allowed to publish dead letters to '${request.deadLetter}'`, request.deadLetter);
  }
}

export async function openSubscription(bus: Bus, principal: Principal, request: SubscribeRequest, receive: Receive): Promise<Opened> {
  checkPattern(principal, request);
  const replays = busReplays(bus);
  const resuming = request.after !== undefined || (request.from !== undefined && request.from !== 'latest');
  let from = request.from;
  let after = request.after;
  if (after !== undefined) from = replays ? { seq: after } : 'latest';
  else if (!replays && resuming) from = 'latest';
  if (!replays) after = undefined;
  const busPattern = principal.toBus(request.pattern);
  const subscription = await bus.subscribe(
    busPattern,
    (message) => {
      // Defence in depth: a client never sees a topic outside its pattern (and so its tenant),
      // even if a driver hands over more (the memory driver's replay does not filter by topic).
      if (!matchesPattern(busPattern, message.topic)) {
        void message.ack().catch(() => {});
        return;
      }
      let gap: string | undefined;
      if (after !== undefined) {
        const expected = after;
        after = undefined;
        if (message.seq === expected) {
          void message.ack().catch(() => {});
          return;
        }
        gap = message.seq ?? '';
      }
      return receive(message, principal.fromBus(message.topic), gap);
    },
    {
      group: request.group,
      from,
      ack: 'manual',
      maxAttempts: request.maxAttempts,
      deadLetter: request.deadLetter === undefined ? undefined : principal.toBus(request.deadLetter),
      ackDeadlineMs: request.ackDeadlineMs,
    },
  );
  return { subscription, recovered: !resuming || replays };
}
