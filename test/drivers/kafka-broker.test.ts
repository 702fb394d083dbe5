// The real-broker harness the Kafka tests stand on: a private broker serves a record, and a
// stop() and start() is a real restart that keeps its topics and records.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { privateKafkaSkip, startPrivateKafka } from '../support/kafka.js';

const skip = privateKafkaSkip();

/** The values on `topic` from its start, read by a fresh consumer group until `count` arrived. */
async function readFromStart(brokers: string[], topic: string, group: string, count: number): Promise<string[]> {
  const consumer = new Consumer({ clientId: 'harness-test', groupId: group, bootstrapBrokers: brokers, deserializers: stringDeserializers });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    const values: string[] = [];
    for await (const message of stream) {
      values.push(message.value);
      if (values.length === count) break;
    }
    await stream.close();
    return values;
  } finally {
    await consumer.close(true);
  }
}

describe('kafka broker harness', { skip }, () => {
  it('serves a record, and keeps its topic and record across a restart', { timeout: 120_000 }, async () => {
    const kafka = await startPrivateKafka();
    const admin = new Admin({ clientId: 'harness-test', bootstrapBrokers: kafka.brokers });
    try {
      await admin.createTopics({ topics: ['harness'], partitions: 1, replicas: 1 });
      const producer = new Producer({ clientId: 'harness-test', bootstrapBrokers: kafka.brokers, serializers: stringSerializers });
      try {
        await producer.send({ messages: [{ topic: 'harness', key: 'k', value: 'hello' }] });
      } finally {
        await producer.close();
      }
      assert.deepEqual(await readFromStart(kafka.brokers, 'harness', 'before', 1), ['hello']);

      await kafka.stop();
      await kafka.start();

      assert.ok((await admin.listTopics()).includes('harness'), 'the topic survives the restart');
      assert.deepEqual(await readFromStart(kafka.brokers, 'harness', 'after', 1), ['hello']);
    } finally {
      await admin.close();
      await kafka.dispose();
    }
  });
});
