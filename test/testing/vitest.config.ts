// Runs the conformance specs under vitest, as a user's project would (no globals), for
// test/testing/vitest.test.ts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/testing/*.spec.ts'],
    globals: false,
  },
});
