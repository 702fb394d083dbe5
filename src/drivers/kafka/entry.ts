// The kafka driver (Apache Kafka, or a Kafka-compatible broker such as Redpanda) as
// configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'kafka',
  schemes: ['kafka:'],
  example: 'kafka://127.0.0.1:9092',
  // kafka://host:port[,host:port][?clientId=app&partitions=6]
  fromUrl: (url) => {
    const [address, query = ''] = url.slice('kafka://'.length).split('?', 2);
    const options: Record<string, unknown> = { brokers: address.split(',').filter((broker) => broker !== '') };
    const params = new URLSearchParams(query);
    const clientId = params.get('clientId');
    if (clientId !== null) options.clientId = clientId;
    const partitions = params.get('partitions');
    if (partitions !== null) options.partitions = Number(partitions);
    return options;
  },
  options: z.strictObject({
    brokers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    clientId: z.string().min(1).optional(),
    producer: object.optional(),
    additionalConfig: object.optional(),
    autoCreateTopics: z.boolean().optional(),
    partitions: count.optional(),
    replicationFactor: z.number().int().min(-1).optional(),
    topicConfig: z.record(z.string(), z.string()).optional(),
    idempotent: z.boolean().optional(),
    acks: z.enum(['all', 'leader']).optional(),
    compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).optional(),
    lingerMs: ms.optional(),
    batchSize: bytes.optional(),
    fetchMaxWaitMs: ms.optional(),
    topicRefreshMs: ms.optional(),
    sessionTimeoutMs: ms.optional(),
    heartbeatIntervalMs: ms.optional(),
    rebalanceTimeoutMs: ms.optional(),
    prefetch: count.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { '@platformatic/kafka': '>=1.30.0' },
  needs: 'the @platformatic/kafka package and Apache Kafka >= 3.5 (KRaft) or a compatible broker',
  load: async () => (await import('./driver.js')).kafka,
});
