// `bus.reader()` for game and simulation loops: `read()` is synchronous and returns
// everything that arrived since the previous read. It subscribes on the first read.

import type { From } from './driver.js';
import type { Message } from './message.js';
import type { Handler, SubscribeOptions, Subscription } from './subscription.js';

export interface ReaderOptions {
  group?: string;
  from?: From;
  /** Messages kept between reads before the subscription buffer fills. Default 10,000. */
  capacity?: number;
  /** What happens once both are full. Default 'drop' (counted), so a stalled loop never blocks publishers. */
  deliveryMode?: SubscribeOptions['deliveryMode'];
}

type Subscribe = (handler: Handler<any>, options: SubscribeOptions) => Promise<Subscription>;

export class Reader<T> {
  private subscription: Promise<Subscription> | undefined;
  private messages: Message<T>[] = [];
  private room: { promise: Promise<void>; release(): void } | undefined;
  private failure: unknown;

  constructor(
    private readonly subscribe: Subscribe,
    private readonly options: ReaderOptions,
  ) {}

  /** Everything received since the last call (an empty array on the first). */
  read(): Message<T>[] {
    if (this.failure !== undefined) throw this.failure;
    if (this.subscription === undefined) {
      this.subscription = this.subscribe((message: Message<T>) => this.receive(message), {
        group: this.options.group,
        from: this.options.from,
        deliveryMode: this.options.deliveryMode ?? 'drop',
      });
      this.subscription.catch((error) => (this.failure = error));
    }
    const out = this.messages;
    this.messages = [];
    this.room?.release();
    this.room = undefined;
    return out;
  }

  /** Resolves once the subscription exists (after the first `read()`). */
  async ready(): Promise<void> {
    await this.subscription;
  }

  async close(): Promise<void> {
    this.room?.release();
    const subscription = await this.subscription?.catch(() => undefined);
    await subscription?.close();
  }

  private receive(message: Message<T>): void | Promise<void> {
    this.messages.push(message);
    if (this.messages.length < (this.options.capacity ?? 10_000)) return;
    // Full: hold the handler until the next read, so the subscription's buffer (and then
    // its delivery mode) takes the overflow.
    if (this.room === undefined) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.room = { promise, release };
    }
    return this.room.promise;
  }
}
