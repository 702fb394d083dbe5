import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { amqp } from '../../src/drivers/amqp/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { freePort } from '../support/private-server.js';
import { AMQP_URL, amqpSkip, deleteExchange } from '../support/amqp.js';

const skip = await amqpSkip();
if (skip === false) {
  // Every driver of a run shares one exchange (persistence cases reopen it); it and its queues go afterwards.
  const exchange = `omnibus-conformance-${randomUUID().slice(0, 8)}`;
  after(() => deleteExchange(exchange));
  runConformance('amqp', () => amqp({ url: AMQP_URL, exchange }), {
    unreachable: async () => amqp({ url: `amqp://guest:guest@127.0.0.1:${await freePort()}`, exchange }),
    // No such user: RabbitMQ answers ACCESS_REFUSED.
    refused: () => amqp({ url: 'amqp://nobody:wrong@127.0.0.1:5672', exchange }),
  });
}
