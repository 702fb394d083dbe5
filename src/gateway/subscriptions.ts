// Opens a bus subscription on a client's behalf: grant and tenant checks, resume after a
// seq (core's `from: { seq }` is inclusive, so the equal seq is skipped), and the reply's
// `recovered` flag, which says whether the resume position is still held.

import type { Bus } from '../core/bus.js';
import type { From } from '../core/driver.js';
import { errorMessage } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { deadLetterLoop } from '../core/failure-policy.js';
import type { Subscription } from '../core/subscription.js';
import { assertPattern, assertTopic } from '../core/topic.js';
import type { Principal } from './auth.js';
import { FrameError } from './frames.js';
import { isPresenceTopic, reaches } from './presence.js';
import { presenceRefusal } from './publishing.js';

export interface SubscribeRequest {
  pattern: string;
  group?: string;
  from?: From;
  /** Resume: deliver what came after this seq, in order, without it. */
  after?: string;
  maxAttempts?: number;
  deadLetter?: string;
  ackDeadlineMs?: number;
  /** Charges a dead-letter publish to the client; throwing refuses it (see SubscribeOptions). */
  beforeDeadLetter?: (topic: string) => void;
}

export interface Opened {
  subscription: Subscription;
  /**
   * False when a resume was asked for and what was missed cannot all be delivered: the bus
   * keeps no history, or retention removed the resume position.
   */
  recovered: boolean;
  /** With `recovered: false` after retention: the first seq still held, delivered first. */
  earliest?: string;
  /** Lets deliveries through; call it once the reply is sent, so the client sees the reply first. */
  start(): void;
}

export type Receive = (message: Message, topic: string) => void | Promise<void>;

/** How long a resume waits for its position to be replayed before calling it gone. */
const RESUME_WAIT_MS = 1_000;

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
  if (request.deadLetter !== undefined && isPresenceTopic(request.deadLetter)) throw presenceRefusal(request.deadLetter);
  if (request.deadLetter !== undefined && !principal.canPublish(request.deadLetter)) {
    throw new FrameError('FORBIDDEN', `not allowed to publish dead letters to '${request.deadLetter}'`, request.deadLetter);
  }
  const loop = request.deadLetter === undefined ? undefined : deadLetterLoop(request.pattern, request.deadLetter);
  if (loop !== undefined) throw new FrameError('BAD_FRAME', loop, request.pattern);
}

export async function openSubscription(bus: Bus, principal: Principal, request: SubscribeRequest, receive: Receive): Promise<Opened> {
  checkPattern(principal, request);
  const replays = busReplays(bus);
  const resuming = request.after !== undefined || (request.from !== undefined && request.from !== 'latest');
  let from = request.from;
  if (request.after !== undefined) from = replays ? { seq: request.after } : 'latest';
  else if (!replays && resuming) from = 'latest';
  // The first message a resume replays is its position itself while retention still holds it.
  let expected = replays ? request.after : undefined;
  let found!: (first: string | undefined) => void;
  const replayed = new Promise<string | undefined>((resolve) => (found = resolve));
  let started = false;
  let start!: () => void;
  const starting = new Promise<void>((resolve) => (start = resolve));
  const busPattern = principal.toBus(request.pattern);
  // The answer for the last topic seen: a stream of messages mostly repeats its topics.
  let lastTopic: string | undefined;
  let lastReaches = false;
  const subscription = await bus.subscribe(
    busPattern,
    (message) => {
      // Defence in depth: a client never sees a topic outside its pattern (and so its tenant),
      // even if a driver hands over more (the memory driver's replay does not filter by topic).
      // Presence events reach only patterns that name them.
      if (message.topic !== lastTopic) {
        lastTopic = message.topic;
        lastReaches = reaches(busPattern, lastTopic);
      }
      if (!lastReaches) {
        void message.ack().catch(() => {});
        return;
      }
      if (expected !== undefined) {
        const position = expected;
        expected = undefined;
        found(message.seq);
        if (message.seq === position) {
          void message.ack().catch(() => {});
          return;
        }
      }
      const topic = principal.fromBus(message.topic);
      return started ? receive(message, topic) : starting.then(() => receive(message, topic));
    },
    {
      group: request.group,
      from,
      ack: 'manual',
      maxAttempts: request.maxAttempts,
      deadLetter: request.deadLetter === undefined ? undefined : principal.toBus(request.deadLetter),
      beforeDeadLetter: request.beforeDeadLetter,
      ackDeadlineMs: request.ackDeadlineMs,
    },
  );
  const opened: Opened = {
    subscription,
    recovered: !resuming || replays,
    start: () => {
      started = true;
      start();
    },
  };
  if (replays && request.after !== undefined) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([replayed, new Promise<null>((resolve) => (timer = setTimeout(resolve, RESUME_WAIT_MS, null)))]);
    clearTimeout(timer);
    if (first !== request.after) {
      // Nothing replayed at all means retention removed the position and everything after it we could check.
      expected = undefined;
      opened.recovered = false;
      if (first !== null && first !== undefined) opened.earliest = first;
    }
  }
  return opened;
}
