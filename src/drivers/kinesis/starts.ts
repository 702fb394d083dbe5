// Where each shard starts for a `from`: TRIM_HORIZON, LATEST, or for a seq its own shard
// AT_SEQUENCE_NUMBER. A time, and the other shards of a seq, read from TRIM_HORIZON and skip
// what came before it in the order subscribers see (the floor), rather than AT_TIMESTAMP:
// kinesalite never answers an AT_TIMESTAMP request when no record is at or after the time.

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { InvalidPositionError } from '../../core/errors.js';
import { fromData } from './envelope.js';
import { kinesisFailure } from './errors.js';
import type { Start } from './position.js';
import type { Order, ShardStart } from './reader.js';
import type { KinesisModule } from './streams.js';


export interface Starts {
  of(shard: string): ShardStart;
  /** Records before this are not the subscriber's. */
  floor?: Order;
}

export async function shardStarts(sdk: KinesisModule, client: KinesisClient, stream: string, start: Start, pattern: string): Promise<Starts> {
  switch (start.kind) {
    case 'earliest':
      return { of: () => ({ type: 'TRIM_HORIZON' }) };
    case 'latest':
      return { of: () => ({ type: 'LATEST' }) };
    case 'time':
      // An empty id sorts before every id: what arrived at the time itself is in.
      return { of: () => ({ type: 'TRIM_HORIZON' }), floor: { arrival: start.ms, id: '' } };
    case 'seq': {
      const { at } = start;
      if (at.stream !== stream) {
        throw new InvalidPositionError(`kinesis: from { seq } names stream '${at.stream}', but pattern '${pattern}' reads stream '${stream}'; give a seq of a message on this pattern`, { topic: pattern });
      }
      const floor = await recordAt(sdk, client, stream, at.shard, at.sequence, pattern);
      return {
        of: (shard) => (shard === at.shard ? { type: 'AT_SEQUENCE_NUMBER', sequence: at.sequence } : { type: 'TRIM_HORIZON' }),
        floor,
      };
    }
  }
}

/** The arrival time and id of the record at `sequence`, or InvalidPositionError when the stream no longer holds it. */
async function recordAt(sdk: KinesisModule, client: KinesisClient, stream: string, shard: string, sequence: string, pattern: string): Promise<Order> {
  let record;
  try {
    const { ShardIterator } = await client.send(new sdk.GetShardIteratorCommand({ StreamName: stream, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: sequence }));
    const { Records } = await client.send(new sdk.GetRecordsCommand({ ShardIterator, Limit: 1 }));
    record = Records?.[0];
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'ResourceNotFoundException' && name !== 'InvalidArgumentException') throw kinesisFailure(error, `finding the record at ${sequence} in shard ${shard} failed`, pattern);
  }
  if (record?.SequenceNumber !== sequence) {
    throw new InvalidPositionError(`kinesis: from { seq } names a record stream '${stream}' no longer holds (shard ${shard}, sequence ${sequence}); start from 'earliest' or a time`, { topic: pattern });
  }
  const arrival = record.ApproximateArrivalTimestamp!.getTime();
  const seq = `${stream}:${shard}:${sequence}`;
  return { arrival, id: fromData(record.Data ?? new Uint8Array(0), seq)?.id ?? seq };
}
