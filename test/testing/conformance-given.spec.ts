// Run by vitest (test/testing/vitest.test.ts): vitest's describe and it handed over explicitly.
import { describe, it } from 'vitest';
import { memory } from '../../src/drivers/memory/index.js';
import { runConformance } from '../../src/testing/index.js';

void runConformance('memory under vitest (given)', () => memory({ history: { maxMessages: 1_000 }, dedupeWindowMs: 60_000, roundTrip: true }), {
  runner: { describe, it },
});
