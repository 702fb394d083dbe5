import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { runConformance } from '../../src/testing/conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-conformance-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A dedupe window short enough for the case that waits it out.
runConformance('sqlite', () => sqlite({ path: join(dir, 'conformance.db'), dedupeWindowMs: 2_000 }));
// The same contract with the lighter durability setting and the default window.
runConformance('sqlite (synchronous: normal)', () => sqlite({ path: join(dir, 'normal.db'), synchronous: 'normal' }));
