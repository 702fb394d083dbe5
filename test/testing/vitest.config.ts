// Runs the conformance specs under vitest, as a user's project would (no globals), for
// test/testing/vitest.test.ts.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Outside node_modules, which worktrees may share.
  cacheDir: join(tmpdir(), 'omnibus-vitest-cache'),
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/testing/*.spec.ts'],
    globals: false,
  },
});
