import { memory } from '../../src/drivers/memory/index.js';
import { runConformance } from '../../src/testing/conformance.js';

runConformance('memory (defaults)', () => memory());
// Every optional feature on, and every message encoded and decoded as a wire driver would; a
// dedupe window short enough for the case that waits it out.
runConformance('memory (history, dedupe, round trip, 64 KiB limit)', () =>
  memory({ history: { maxMessages: 1_000 }, dedupeWindowMs: 2_000, roundTrip: true, maxPayloadBytes: 64 * 1024 }),
);
