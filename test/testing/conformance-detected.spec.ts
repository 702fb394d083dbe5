// Run by vitest (test/testing/vitest.test.ts): without a runner given, runConformance finds vitest itself.
import { memory } from '../../src/drivers/memory/index.js';
import { runConformance } from '../../src/testing/index.js';

await runConformance('memory under vitest (detected)', () => memory());
