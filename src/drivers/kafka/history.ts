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
  let seqRecord: Fetched | undefined;
  if (start.kind === 'time') timestamp = BigInt(start.ms);
  if (start.kind === 'seq') {
    // A fetch starts at the batch holding the offset: the record itself is further in.
    const records = await fetchRecords(fetcher, [{ topic: start.at.topic, partition: start.at.partition, next: start.at.offset }], 0);
    seqRecord = records.find((fetched) => fetched.offset >= start.at.offset);
    timestamp = seqRecord === undefined ? -1n : BigInt(seqRecord.time);
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
      let any = false;
      for (const fetched of await fetchRecords(fetcher, empty, 0)) {
        const cursor = fetched.position as Cursor;
        // A fetch returns whole batches: records before `next` were read or precede the start.
        if (fetched.offset >= cursor.next && fetched.offset < cursor.end) {
          cursor.buffered.push(fetched);
          any = true;
        }
      }
      for (const cursor of empty) {
        const last = cursor.buffered.at(-1);
        if (last !== undefined) cursor.next = last.offset + 1n;
        // A partition can come back empty because the answer was full; only when none brought
        // anything is the rest of each gone (removed by retention, or transaction markers only).
        else if (!any) cursor.next = cursor.end;
      }
    }
    let oldest: Cursor | undefined;
    for (const cursor of cursors) {
      if (cursor.buffered.length > 0 && (oldest === undefined || publishedBefore(cursor.buffered[0], oldest.buffered[0]))) oldest = cursor;
    }
    if (oldest === undefined) return;
    const fetched = oldest.buffered.shift()!;
    // Other partitions start at the seq's time: what shares that millisecond but came first is left out.
    const before = seqRecord !== undefined && (fetched.topic !== seqRecord.topic || fetched.partition !== seqRecord.partition) && publishedBefore(fetched, seqRecord);
    if (fetched.message !== undefined && !before) yield fetched.message;
  }
}
