// The Kinesis driver beyond the conformance suite: checkpoints that outlive the bus in both
// stores, shards handed over when a member dies, the record layout, and what it refuses.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { KinesisClient, PutRecordCommand, GetShardIteratorCommand, GetRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Bus } from '../../src/core/bus.js';
import { InvalidTopicError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { kinesis, type KinesisOptions } from '../../src/drivers/kinesis/index.js';
import declaration from '../../src/drivers/kinesis/entry.js';
import { eventually, sleep } from '../../src/testing/wait.js';
import { checkpointFile, kinesisForTests } from '../support/kinesis.js';
import { PG_URL, postgresSkip } from '../support/postgres.js';

const { skip, endpoint } = await kinesisForTests();
const client = new KinesisClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'omnibus', secretAccessKey: 'omnibus' }, requestHandler: new NodeHttpHandler() });

function busOn(options: KinesisOptions): Bus {
  const driver = kinesis({ endpoint, pollMs: 50, ...options });
  return new Bus({ drivers: { kinesis: driver } });
}

describe('kinesis driver', { skip }, () => {
  for (const store of ['sqlite', 'postgres'] as const) {
    it(`a group's checkpoint in ${store} survives closing the bus: a new bus resumes after what was acked`, async (t) => {
      if (store === 'postgres') {
        const down = await postgresSkip();
        if (down) return t.skip(down);
      }
      const checkpoints = store === 'sqlite' ? checkpointFile() : PG_URL;
      const topic = `ck${randomUUID().slice(0, 8)}.orders`;
      const group = `billing-${randomUUID()}`;
      const first = busOn({ checkpoints });
      const seen: number[] = [];
      await first.subscribe(topic, (message) => void seen.push(message.data as number), { group });
      for (let n = 0; n < 10; n++) await first.publish(topic, n, { key: `k${n % 3}` });
      await eventually(() => seen.length === 10, 'the first 10 messages', 10_000);
      await first.close();

      const second = busOn({ checkpoints });
      try {
        await second.publish(topic, 10);
        const again: number[] = [];
        await second.subscribe(topic, (message) => void again.push(message.data as number), { group });
        await second.publish(topic, 11);
        await eventually(() => again.length >= 2, 'the messages published after the first bus closed', 10_000);
        await sleep(300);
        assert.deepEqual(again.sort((a, b) => a - b), [10, 11], 'nothing acked before the restart came back');
      } finally {
        await second.close();
      }
    });
  }

  it("a member that dies loses its shards when its leases expire, and the other member gets everything it left", async () => {
    const checkpoints = checkpointFile();
    const topic = `die${randomUUID().slice(0, 8)}.jobs`;
    const group = 'workers';
    const leaseMs = 1_500;
    const survivor = busOn({ checkpoints, leaseMs });
    const got = new Set<number>();
    await survivor.subscribe(topic, (message: Message) => void got.add(message.data as number), { group });
    // The other member runs in a process of its own, takes its share, handles nothing and is killed.
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', memberScript(topic, group, checkpoints, leaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const db = new Database(checkpoints.slice('sqlite:'.length), { readonly: true });
      const owners = () => db.prepare('SELECT owner, count(*) AS shards FROM omnibus_kinesis_leases WHERE owner IS NOT NULL GROUP BY owner').all() as Array<{ shards: number }>;
      await eventually(() => owners().length === 2 && owners().every((row) => row.shards === 2), 'both members holding 2 of the 4 shards', 15_000);
      db.close();
      for (let n = 0; n < 40; n++) await survivor.publish(topic, n);
      await eventually(() => got.size >= 5, 'the survivor handling its own shards', 10_000);
      child.kill('SIGKILL');
      await eventually(() => got.size === 40, 'all 40 messages at the survivor once the dead member\'s leases expired', 15_000);
    } finally {
      child.kill('SIGKILL');
      await survivor.close();
    }
  });

  it('puts the topic, id, headers, key and time in an envelope ahead of the payload bytes', async () => {
    const bus = busOn({ checkpoints: checkpointFile() });
    try {
      const topic = `env${randomUUID().slice(0, 8)}.a`;
      const { seq, id } = await bus.publish(topic, new Uint8Array([1, 2, 3]), { key: 'k', headers: { h: 'v' } });
      const [stream, shard, sequence] = seq!.split(':');
      assert.equal(stream, `omnibus-${topic.split('.')[0]}`);
      const { ShardIterator } = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: sequence }));
      const { Records } = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
      const data = Records![0].Data!;
      assert.equal(Records![0].PartitionKey, 'k');
      assert.equal(data[0], 1, 'layout version 1');
      const length = new DataView(data.buffer, data.byteOffset).getUint32(1);
      const header = JSON.parse(Buffer.from(data.subarray(5, 5 + length)).toString());
      assert.deepEqual({ id: header.id, topic: header.topic, key: header.key, h: header.headers.h }, { id, topic, key: 'k', h: 'v' });
      assert.deepEqual([...data.subarray(5 + length)], [1, 2, 3]);
    } finally {
      await bus.close();
    }
  });

  it("delivers another producer's record with its bytes as payload and its seq as id", async () => {
    const bus = busOn({ checkpoints: checkpointFile() });
    try {
      const prefix = `raw${randomUUID().slice(0, 8)}`;
      const got: Message[] = [];
      await bus.subscribe(`${prefix}`, (message) => void got.push(message), { from: 'latest' });
      await client.send(new PutRecordCommand({ StreamName: `omnibus-${prefix}`, PartitionKey: 'x', Data: Buffer.from('plain bytes') }));
      await eventually(() => got.length === 1, 'the foreign record', 10_000);
      assert.equal(got[0].topic, prefix);
      assert.equal(got[0].id, got[0].seq);
      assert.equal(Buffer.from(got[0].data as Uint8Array).toString(), 'plain bytes');
    } finally {
      await bus.close();
    }
  });

  it('refuses a wildcard among the tokens that name the stream, with InvalidTopicError', async () => {
    const bus = busOn({ checkpoints: checkpointFile(), streamTokens: 2 });
    try {
      await assert.rejects(bus.subscribe('orders.*.placed', () => {}), (error: unknown) => error instanceof InvalidTopicError && /position 2/.test(error.message));
      await assert.rejects(bus.subscribe('>', () => {}), InvalidTopicError);
    } finally {
      await bus.close();
    }
  });
});

describe('kinesis:// addresses', () => {
  it('names an endpoint, the checkpoint store and the stream settings', () => {
    assert.deepEqual(declaration.fromUrl('kinesis://127.0.0.1:4567?checkpoints=sqlite:cp.db&shards=2&streamTokens=2&region=eu-west-1'), {
      endpoint: 'http://127.0.0.1:4567',
      checkpoints: 'sqlite:cp.db',
      region: 'eu-west-1',
      shards: 2,
      streamTokens: 2,
    });
    assert.deepEqual(declaration.fromUrl('kinesis://aws?region=eu-west-1'), { region: 'eu-west-1' });
  });
});

/** A group member in another process that takes shards and never settles what it gets. */
function memberScript(topic: string, group: string, checkpoints: string, leaseMs: number): string {
  const driver = fileURLToPath(new URL('../../src/drivers/kinesis/index.ts', import.meta.url));
  const bus = fileURLToPath(new URL('../../src/core/bus.ts', import.meta.url));
  return `
    import { kinesis } from ${JSON.stringify(driver)};
    import { Bus } from ${JSON.stringify(bus)};
    const bus = new Bus({ drivers: { kinesis: kinesis({ endpoint: ${JSON.stringify(endpoint)}, checkpoints: ${JSON.stringify(checkpoints)}, leaseMs: ${leaseMs}, pollMs: 50 }) } });
    await bus.subscribe(${JSON.stringify(topic)}, () => new Promise(() => {}), { group: ${JSON.stringify(group)} });
    setInterval(() => {}, 1000);
  `;
}
