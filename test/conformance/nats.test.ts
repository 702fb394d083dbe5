import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { nats } from '../../src/drivers/nats/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { deleteStreams, NATS_URL, natsSkip } from '../support/nats.js';

const skip = await natsSkip();
if (skip === false) {
  // Each run creates its own streams (the suite's topics are unique per run) and removes them.
  const streamPrefix = `OMNICONF${randomUUID().slice(0, 8)}`;
  after(() => deleteStreams(streamPrefix));
  runConformance('nats (jetstream)', () => nats({ servers: NATS_URL, streamPrefix }));
  // Plain subjects, at most once: the cases for persistence, replay, de-duplication and ack
  // deadlines are skipped by its capabilities.
  runConformance('nats (core)', () => nats({ servers: NATS_URL, mode: 'core' }));
}
