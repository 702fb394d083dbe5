// runConformance under vitest: the specs beside this file run in a vitest process of their
// own, and every case passes or is skipped exactly as the plan for the driver says.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { it } from 'node:test';
import type { Driver } from '../../src/core/driver.js';
import { memory } from '../../src/drivers/memory/index.js';
import { conformancePlan } from '../../src/testing/conformance.js';

const run = promisify(execFile);

interface Report {
  success: boolean;
  testResults: Array<{ name: string; assertionResults: Array<{ status: string; ancestorTitles: string[] }> }>;
}

function expected(driver: Driver): { passed: number; skipped: number } {
  const plan = conformancePlan(driver.capabilities);
  const skipped = plan.filter((entry) => entry.skip !== false).length;
  return { passed: plan.length - skipped, skipped };
}

it('runConformance runs under vitest, found by itself or handed over, with the planned cases', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-vitest-'));
  try {
    const output = join(dir, 'report.json');
    // The runner config loader writes no bundled config into node_modules, which worktrees may share.
    const args = ['vitest', 'run', '--config', 'test/testing/vitest.config.ts', '--configLoader', 'runner', '--reporter=json', `--outputFile=${output}`];
    await run('npx', args, {
      timeout: 170_000,
      env: { ...process.env, CI: 'true' },
    });
    const report = JSON.parse(readFileSync(output, 'utf8')) as Report;
    assert.ok(report.success);
    const counts = Object.fromEntries(
      report.testResults.map((file) => {
        const statuses = file.assertionResults.map((result) => result.status);
        const suite = file.assertionResults[0].ancestorTitles[0];
        return [suite, { passed: statuses.filter((s) => s === 'passed').length, skipped: statuses.filter((s) => s === 'skipped').length }];
      }),
    );
    assert.deepEqual(counts, {
      'conformance: memory under vitest (detected)': expected(memory()),
      'conformance: memory under vitest (given)': expected(memory({ history: { maxMessages: 1_000 }, dedupeWindowMs: 60_000, roundTrip: true })),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
