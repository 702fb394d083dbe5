// Publishing: a batch becomes PutRecords calls per stream (at most 500 records and 5 MiB
// each, Kinesis's limits), each record's partition key its message's key or else its id, and
// records Kinesis turned away (throttled) are sent again, backing off, before giving up.

import type { KinesisClient, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { createHash } from 'node:crypto';
import { backoffDelay } from '../../core/backoff.js';
import type { WireMessage } from '../../core/driver.js';
import { failure } from '../../driver-kit/failure.js';
import { KINESIS_RECORD_LIMIT, toData } from './envelope.js';
import { kinesisFailure } from './errors.js';
import { formatSeq } from './position.js';
import type { KinesisModule } from './streams.js';

const MAX_RECORDS = 500;
const MAX_REQUEST_BYTES = 5 * 1024 * 1024;
/** Tries of a record Kinesis turned away, in all. */
const TRIES = 5;

interface Entry {
  wire: WireMessage;
  record: PutRecordsRequestEntry;
  size: number;
}

/**
 * The partition key: the message's key (one key, one shard, one order), else its id, so keyless
 * messages spread over the shards. Kinesis allows 256 characters: a longer key goes as its
 * SHA-256, which keeps one key on one shard all the same.
 */
export function partitionKey(wire: WireMessage): string {
  const key = wire.key ?? wire.id;
  return key.length <= 256 ? key : createHash('sha256').update(key).digest('hex');
}

export async function putRecords(sdk: KinesisModule, client: KinesisClient, stream: string, batch: WireMessage[]): Promise<void> {
  const entries = batch.map((wire): Entry => {
    const record = { Data: toData(wire), PartitionKey: partitionKey(wire) };
    const size = record.Data.byteLength + Buffer.byteLength(record.PartitionKey);
    if (size > KINESIS_RECORD_LIMIT) {
      throw failure('bad-data', `kinesis: the record for a message on '${wire.topic}' is ${size} bytes with its envelope, over Kinesis's ${KINESIS_RECORD_LIMIT}; send a smaller payload`, { topic: wire.topic });
    }
    return { wire, record, size };
  });
  for (let i = 0; i < entries.length; ) {
    const chunk: Entry[] = [];
    let bytes = 0;
    while (i < entries.length && chunk.length < MAX_RECORDS && (chunk.length === 0 || bytes + entries[i].size <= MAX_REQUEST_BYTES)) {
      bytes += entries[i].size;
      chunk.push(entries[i++]);
    }
    await put(sdk, client, stream, chunk);
  }
}

async function put(sdk: KinesisModule, client: KinesisClient, stream: string, chunk: Entry[]): Promise<void> {
  let waiting = chunk;
  for (let attempt = 1; ; attempt++) {
    let output;
    try {
      output = await client.send(new sdk.PutRecordsCommand({ StreamName: stream, Records: waiting.map((entry) => entry.record) }));
    } catch (error) {
      throw kinesisFailure(error, `publishing to stream '${stream}' failed`, waiting[0].wire.topic);
    }
    const failed: Entry[] = [];
    let reason = '';
    for (const [index, result] of (output.Records ?? []).entries()) {
      const entry = waiting[index];
      if (result.SequenceNumber !== undefined && result.ShardId !== undefined) entry.wire.seq = formatSeq(stream, result.ShardId, result.SequenceNumber);
      else {
        failed.push(entry);
        reason = `${result.ErrorCode}: ${result.ErrorMessage}`;
      }
    }
    if (failed.length === 0) return;
    if (attempt >= TRIES) throw failure('connection', `kinesis: ${failed.length} record(s) for stream '${stream}' were turned away ${TRIES} times (${reason})`, { topic: failed[0].wire.topic });
    waiting = failed;
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }, 'equal')));
  }
}
