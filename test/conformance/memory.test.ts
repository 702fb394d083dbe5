import { memory } from '../../src/drivers/memory.js';
import { runConformance } from '../../src/testing/conformance.js';

runConformance('memory', () => memory({ dedupeWindowMs: 60_000 }));
// The same contract with every message encoded and decoded, as a wire driver would.
runConformance('memory (round trip, 64 KiB limit)', () =>
  memory({ roundTrip: true, maxPayloadBytes: 64 * 1024, dedupeWindowMs: 60_000 }),
);
