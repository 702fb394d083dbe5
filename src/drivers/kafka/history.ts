// `read`: what the matching topics hold from a position up to their ends when the read
// began, oldest first across partitions (by record time), fetched a chunk at a time.

import type { ReadSpec, WireMessage } from '../../core/driver.js';
import { fetchRecords, offsetsAt, publishedBefore, type Fetched, type Fetcher, type FetchPosition } from './fetch.js';
import type { Cluster } from './cluster.js';
import { startOf } from './position.js';

interface Cursor extends FetchPosition {
  end: bigint;
  buffered: Fetched[];
}

export async function* readHistory(cluster: Cluster, fetcher: Fetcher, spec: ReadSpec): AsyncGenerator<WireMessage> {
  const start = startOf(spec.from, spec.pattern);
  const topics = await cluster.matching(spec.pattern);
  if (topics.length === 0) return;
  const ends = await offsetsAt(fetcher.consumer, topics, -1n, spec.pattern);
  let timestamp = -2n;
  if (start.kind === 'time') timestamp = BigInt(start.ms);
  if (start.kind === 'seq') {
    const [record] = await fetchRecords(fetcher, [{ topic: start.at.topic, partition: start.at.partition, next: start.at.offset }], 0);
    timestamp = record === undefined ? -1n : BigInt(record.time);
  }
  const starts = await offsetsAt(fetcher.consumer, topics, timestamp, spec.pattern);
  const cursors: Cursor[] = [];
  for (const topic of topics) {
    for (const [partition, end] of (ends.get(topic) ?? []).entries()) {
      let next = starts.get(topic)?.[partition] ?? -1n;
      if (start.kind === 'seq' && start.at.topic === topic && start.at.partition === partition) next = start.at.offset;
      if (next < 0n) next = end;
      if (next < end) cursors.push({ topic, partition, next, end, buffered: [] });
    }
  }
  while (true) {
    const empty = cursors.filter((cursor) => cursor.buffered.length === 0 && cursor.next < cursor.end);
    if (empty.length > 0) {
      for (const fetched of await fetchRecords(fetcher, empty, 0)) {
        const cursor = fetched.position as Cursor;
        if (fetched.offset < cursor.end) cursor.buffered.push(fetched);
      }
      for (const cursor of empty) {
        const last = cursor.buffered.at(-1);
        // Nothing came back below the end: the rest was removed or is transaction markers.
        cursor.next = last === undefined ? cursor.end : last.offset + 1n;
      }
    }
    let oldest: Cursor | undefined;
    for (const cursor of cursors) {
      if (cursor.buffered.length > 0 && (oldest === undefined || publishedBefore(cursor.buffered[0], oldest.buffered[0]))) oldest = cursor;
    }
    if (oldest === undefined) return;
    const fetched = oldest.buffered.shift()!;
    if (fetched.message !== undefined) yield fetched.message;
  }
}
