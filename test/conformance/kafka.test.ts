import { kafka } from '../../src/drivers/kafka/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { kafkaForTests } from '../support/kafka.js';
import { freePort } from '../support/private-server.js';

const { skip, brokers } = await kafkaForTests();
if (skip === false) {
  runConformance('kafka', () => kafka({ brokers, topicRefreshMs: 500 }), {
    unreachable: async () => kafka({ brokers: [`127.0.0.1:${await freePort()}`] }),
    // The broker answers that the topic does not exist, and the driver may not create it.
    refused: () => kafka({ brokers, autoCreateTopics: false }),
  });
}
