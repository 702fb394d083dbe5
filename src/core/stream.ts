// `bus.stream()`: a subscription read as an async iterator. Each message waits in the
// subscription's buffer until the loop asks for it, so a slow loop applies backpressure.

import type { Message } from './message.js';
import type { Handler, SubscribeOptions, Subscription } from './subscription.js';

export type StreamOptions = Omit<SubscribeOptions, 'ack'>;

type Subscribe = (handler: Handler<any>, options: SubscribeOptions) => Promise<Subscription>;

export class MessageStream<T> implements AsyncIterableIterator<Message<T>> {
  private readonly subscription: Promise<Subscription>;
  private readonly ready: Array<{ message: Message<T>; handed(): void }> = [];
  private readonly takers: Array<{ resolve(result: IteratorResult<Message<T>>): void; reject(error: unknown): void }> = [];
  private done = false;
  private failure: unknown;

  constructor(subscribe: Subscribe, options: StreamOptions) {
    this.subscription = subscribe((message: Message<T>) => this.offer(message), { ...options, ack: 'manual' });
    this.subscription.then(
      (subscription) => subscription.signal.addEventListener('abort', () => this.finish()),
      (error) => {
        this.failure = error;
        for (const taker of this.takers.splice(0)) taker.reject(error);
      },
    );
  }

  /** Resolves once subscribed; rejects if the subscription could not be made. */
  async started(): Promise<void> {
    await this.subscription;
  }

  next(): Promise<IteratorResult<Message<T>>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const item = this.ready.shift();
    if (item !== undefined) {
      item.handed();
      return Promise.resolve({ value: item.message, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.takers.push({ resolve, reject }));
  }

  async return(): Promise<IteratorResult<Message<T>>> {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iteration; messages not yet handed out go back for redelivery. */
  async close(): Promise<void> {
    this.finish();
    const subscription = await this.subscription.catch(() => undefined);
    await subscription?.close();
  }

  private offer(message: Message<T>): void | Promise<void> {
    if (this.done) return message.nack({ delayMs: 0 });
    const taker = this.takers.shift();
    if (taker !== undefined) {
      taker.resolve({ value: message, done: false });
      return;
    }
    return new Promise<void>((handed) => this.ready.push({ message, handed }));
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const taker of this.takers.splice(0)) taker.resolve({ value: undefined, done: true });
    for (const item of this.ready.splice(0)) {
      void item.message.nack({ delayMs: 0 }).catch(() => {});
      item.handed();
    }
  }
}
