import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { nats } from '../../src/drivers/nats/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { deleteStreams, NATS_URL, natsSkip } from '../support/nats.js';
import { freePort, startPrivateServer } from '../support/private-server.js';

const skip = await natsSkip();
if (skip === false) {
  // Each run creates its own streams (the suite's topics are unique per run) and removes them.
  const streamPrefix = `OMNICONF${randomUUID().slice(0, 8)}`;
  after(() => deleteStreams(streamPrefix));
  // A server of its own that wants a password, for the refusal case.
  const guarded = await startPrivateServer({
    name: 'nats-server',
    command: '/usr/sbin/nats-server',
    args: (port) => ['-a', '127.0.0.1', '-p', String(port), '--user', 'omnibus', '--pass', 'secret'],
  });
  after(() => guarded.dispose());
  // A dedupe window the window case can wait out.
  runConformance('nats (jetstream)', () => nats({ servers: NATS_URL, streamPrefix, dedupeWindowMs: 2_000 }), {
    unreachable: async () => nats({ servers: `nats://127.0.0.1:${await freePort()}`, streamPrefix }),
    refused: () => nats({ servers: `nats://127.0.0.1:${guarded.port}`, streamPrefix, connectOptions: { user: 'omnibus', pass: 'wrong' } }),
  });
  // Plain subjects, at most once: the cases for persistence, replay, de-duplication and ack
  // deadlines are skipped by its capabilities.
  runConformance('nats (core)', () => nats({ servers: NATS_URL, mode: 'core' }), {
    unreachable: async () => nats({ servers: `nats://127.0.0.1:${await freePort()}`, mode: 'core' }),
    refused: () => nats({ servers: `nats://127.0.0.1:${guarded.port}`, mode: 'core', connectOptions: { user: 'omnibus', pass: 'wrong' } }),
  });
}
