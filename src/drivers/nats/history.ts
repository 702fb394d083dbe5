// History reads on JetStream (`Driver.read`): a snapshot of the streams a pattern spans, taken
// as each stream's last sequence when the read starts, read through one ephemeral consumer
// per stream in chunks of `pullBatch`, and merged oldest first by the time each stream
// stored a message. Breaking off deletes the consumers at once.

import type { ConsumerConfig } from '@nats-io/jetstream';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { ReadSpec, WireMessage } from '../../core/driver.js';
import { ConnectionError } from '../../core/errors.js';
import { apiPrefix, inboxFor, type JetStreamLink } from './jetstream.js';
import { JetStreamMessage } from './message.js';
import { startAt } from './position.js';
import { expired, fromNats } from './wire.js';

interface Stored {
  wire: WireMessage;
  /** When the stream stored it, in nanoseconds: the order across streams. */
  storedAt: bigint;
}

export async function* readJetStream(link: JetStreamLink, spec: ReadSpec): AsyncGenerator<WireMessage> {
  const start = startAt(spec.from, spec.pattern);
  const filter = link.subject(spec.pattern);
  // Only streams that exist: reading creates none. Sorted, so equal times keep one order.
  const names = (await link.streams.capturing(filter)).sort();
  const lasts = await Promise.all(names.map(async (name) => (await link.jsm.streams.info(name)).state.last_seq));
  const readers = names.map((name, i) => new StreamHistory(link, name, filter, start, lasts[i], spec.pattern));
  try {
    const heads = await Promise.all(readers.map((reader) => reader.next()));
    for (;;) {
      let oldest = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head !== undefined && (oldest < 0 || head.storedAt < heads[oldest]!.storedAt)) oldest = i;
      }
      if (oldest < 0) return;
      yield heads[oldest]!.wire;
      heads[oldest] = await readers[oldest].next();
    }
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
  }
}

/** One stream's part of a read: its messages up to `last`, a chunk at a time. */
class StreamHistory {
  private consumer: string | undefined;
  private inbox: string | undefined;
  private subscription: Subscription | undefined;
  /** Where the inbox's messages go while a pull is open. */
  private arrived: ((error: Error | null, msg: Msg) => void) | undefined;
  private chunk: Stored[] = [];
  private done: boolean;

  constructor(
    private readonly link: JetStreamLink,
    private readonly stream: string,
    private readonly filter: string,
    private readonly start: Partial<ConsumerConfig>,
    /** The stream's last sequence when the read began: nothing after it is read. */
    private readonly last: number,
    private readonly pattern: string,
  ) {
    this.done = last === 0 || (start.opt_start_seq ?? 0) > last;
  }

  async next(): Promise<Stored | undefined> {
    if (this.chunk.length === 0 && !this.done) this.chunk = await this.fetch();
    return this.chunk.shift();
  }

  async close(): Promise<void> {
    this.done = true;
    this.chunk = [];
    this.subscription?.unsubscribe();
    if (this.consumer !== undefined) await this.link.jsm.consumers.delete(this.stream, this.consumer).catch(() => undefined);
    this.consumer = undefined;
  }

  /** The next chunk; marks the read done once it reached the snapshot's end. */
  private async fetch(): Promise<Stored[]> {
    const { settings } = this.link;
    if (this.consumer === undefined) {
      const info = await this.link.jsm.consumers.add(this.stream, {
        ack_policy: 'none',
        filter_subject: this.filter,
        mem_storage: true,
        num_replicas: 1,
        // A reader that dies mid-read leaves nothing behind for long.
        inactive_threshold: settings.ephemeralInactiveMs * 1_000_000,
        ...this.start,
      });
      this.consumer = info.name;
      if (info.num_pending === 0) {
        this.done = true;
        return [];
      }
    }
    const batch = await this.request(settings.pullBatch);
    const stored: Stored[] = [];
    for (const msg of batch) {
      const m = new JetStreamMessage(msg);
      if (m.seq > this.last) {
        this.done = true;
        break;
      }
      const wire = fromNats({
        topic: this.link.topic(msg.subject),
        body: msg.data,
        headers: msg.headers,
        fallbackId: () => `${m.stream}:${m.seq}`,
        fallbackTime: () => m.storedAt(),
        seq: String(m.seq),
      });
      if (!expired(wire)) stored.push({ wire, storedAt: m.storedAtNanos() });
      if (m.seq === this.last || m.pending === 0) this.done = true;
    }
    if (batch.length === 0) this.done = true;
    // Messages the chunk skipped (expired, or past the snapshot) must not end the read early.
    if (stored.length === 0 && !this.done) return this.fetch();
    return stored;
  }

  /** One pull that takes what is there now (`no_wait`): up to `batch` messages, ended by a status if fewer. */
  private request(batch: number): Promise<Msg[]> {
    const { nc, settings } = this.link;
    if (this.subscription === undefined) {
      const inbox = inboxFor(nc);
      this.inbox = inbox;
      this.subscription = nc.subscribe(inbox, { callback: (error, msg) => this.arrived?.(error, msg) });
    }
    const messages: Msg[] = [];
    return new Promise<Msg[]>((resolve, reject) => {
      const end = (error?: Error) => {
        clearTimeout(timer);
        this.arrived = undefined;
        if (error === undefined) resolve(messages);
        else reject(error);
      };
      const timer = setTimeout(
        () => end(new ConnectionError(`NATS did not answer a history read of '${this.pattern}' within ${settings.publishTimeoutMs} ms`, { topic: this.pattern })),
        settings.publishTimeoutMs,
      );
      this.arrived = (error, msg) => {
        if (error !== null) return end(this.link.fail(error, this.pattern));
        if (msg.reply) {
          messages.push(msg);
          if (messages.length === batch) end();
          return;
        }
        // 404: nothing more now, 408: fewer than asked; anything else (409, consumer deleted) failed the read.
        const code = msg.headers?.code ?? 0;
        if (code === 404 || code === 408) return end();
        end(new ConnectionError(`a history read of '${this.pattern}' failed: JetStream answered ${code} ${msg.headers?.description ?? ''}`.trim(), { topic: this.pattern }));
      };
      try {
        nc.publish(`${apiPrefix(this.link.jsm)}.CONSUMER.MSG.NEXT.${this.stream}.${this.consumer}`, JSON.stringify({ batch, no_wait: true }), {
          reply: this.inbox,
        });
      } catch (error) {
        end(this.link.fail(error, this.pattern));
      }
    });
  }
}
