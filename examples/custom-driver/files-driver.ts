// A driver over a directory of append-only files, one per topic, one JSON line per message:
// what a user could write on the driver kit in an afternoon. Processes sharing the directory
// share the bus. Run the conformance suite against it: test/examples/custom-driver.test.ts.

import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
// In your project: 'omnibus/driver-kit'.
import {
  ClosedError,
  Coalescer,
  ConnectOnce,
  defineDriver,
  failure,
  Observers,
  type Capabilities,
  type Deliver,
  type Driver,
  type SubscribeSpec,
  type WireMessage,
} from '../../src/driver-kit/index.js';
import { fileOf, toLine } from './lines.js';
import { TopicReader } from './topic-reader.js';

export interface FilesOptions {
  /** The directory holding the topic files; made on first use. */
  dir: string;
  /** How often a subscription looks for lines other processes appended. Default 50 ms. */
  pollMs?: number;
}

/**
 * What it does, and no more: messages stay in their files (persistent); per-topic files keep
 * publish order, so one key keeps its order on a topic ('key'); patterns are matched by the
 * kit's matcher, not the file system. No consumer groups, no replay and no de-duplication:
 * those would need positions and ids kept beside the files.
 */
const capabilities: Capabilities = {
  persistent: true,
  groups: false,
  replay: false,
  dedupe: false,
  ordering: 'key',
  nativeWildcards: false,
  maxPayloadBytes: 1024 * 1024,
  ackDeadline: true,
};

export const files = defineDriver((options: FilesOptions): Driver => {
  const pollMs = options.pollMs ?? 50;
  const observers = new Observers();
  const readers = new Set<TopicReader>();
  let closed = false;
  // A directory we may not make (under a file, say, or without permission) will never work: refused.
  const directory = new ConnectOnce(async (topic?: string) => {
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (error) {
      throw failure('refused', `cannot use '${options.dir}' for the files driver: ${(error as Error).message}`, { topic, cause: error });
    }
  });
  // One append at a time, publishes that arrive meanwhile folded into it: order holds, and a burst costs one write per topic.
  const appends = new Coalescer<WireMessage>(async (batch) => {
    const lines = new Map<string, string>();
    for (const wire of batch) lines.set(wire.topic, (lines.get(wire.topic) ?? '') + toLine(wire));
    for (const [topic, text] of lines) {
      // Opened for appending, so each write lands at the end even with other processes writing;
      // `flush` syncs it to disk before publish resolves, as `persistent` promises.
      await appendFile(join(options.dir, fileOf(topic)), text, { flag: 'a', flush: true });
    }
  }, { maxItems: 1_000 });
  const report = (error: unknown) => observers.emit({ type: 'error', driver: 'files', error });

  return {
    name: 'files',
    capabilities,
    observe: (listener) => observers.add(listener),
    async publish(batch: WireMessage[]) {
      if (closed) throw new ClosedError('the files driver is closed', { topic: batch[0]?.topic });
      await directory.get(batch[0]?.topic);
      await appends.add(batch);
      for (const reader of readers) reader.wake(); // this process's subscribers need not wait for a poll
    },
    async subscribe(spec: SubscribeSpec, deliver: Deliver) {
      if (closed) throw new ClosedError('the files driver is closed', { topic: spec.pattern });
      await directory.get(spec.pattern);
      const reader = new TopicReader(options.dir, spec, deliver, pollMs, report);
      await reader.start();
      readers.add(reader);
      return {
        close: async () => {
          readers.delete(reader);
          await reader.stop();
        },
      };
    },
    async close() {
      closed = true;
      await appends.idle();
      await Promise.all([...readers].map((reader) => reader.stop()));
      readers.clear();
    },
  };
});
