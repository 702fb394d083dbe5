import { kinesis } from '../../src/drivers/kinesis/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { checkpointFile, kinesisForTests } from '../support/kinesis.js';
import { freePort } from '../support/private-server.js';

const { skip, endpoint } = await kinesisForTests();
if (skip === false) {
  // One checkpoint file for every driver the suite makes, so a group's position outlives its driver.
  const checkpoints = checkpointFile();
  // Short leases, so a member that leaves without releasing (a failed case) frees its shards soon.
  runConformance('kinesis', () => kinesis({ endpoint, checkpoints, leaseMs: 3_000, pollMs: 50 }), {
    unreachable: async () => kinesis({ endpoint: `http://127.0.0.1:${await freePort()}`, checkpoints }),
    // Kinesis answers that the stream does not exist, and the driver may not create it.
    refused: () => kinesis({ endpoint, checkpoints, createStreams: false }),
  });
}
