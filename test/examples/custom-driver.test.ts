// examples/custom-driver: a driver written on the driver kit alone passes the same
// conformance suite as ours, the cases its capabilities do not claim skipped with the reason.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { files } from '../../examples/custom-driver/files-driver.js';
import { runConformance } from '../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-files-driver-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// A directory that cannot be made, under a regular file: the refusal case.
writeFileSync(join(dir, 'not-a-directory'), '');

runConformance('files (examples/custom-driver)', () => files({ dir: join(dir, 'bus') }), {
  refused: () => files({ dir: join(dir, 'not-a-directory', 'bus') }),
});
