// examples/multi-engine runs as a user runs it, and each message it receives comes through
// the engine its omnibus.config.json routes the topic to: memory, NATS or SQLite.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { it } from 'node:test';
import { NATS_URL, natsSkip } from '../support/nats.js';

const run = promisify(execFile);

/** Removes this run's billing messages from the example's NATS stream; returns how many there were. */
async function purgeBilling(runId: string): Promise<number> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const { purged } = await jsm.streams.purge('OMNIBUS_EXAMPLE_billing', { filter: `billing.${runId}.>` });
    return purged;
  } finally {
    await nc.close();
  }
}

it('examples/multi-engine: game.> via memory, billing.> via NATS, the rest via SQLite', async (t) => {
  const skip = await natsSkip(); // with CI=true a NATS that is down throws here
  if (skip) return t.skip(skip);
  // The config's SQLite path is relative, so a temporary working directory keeps the file out of the repo.
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-multi-engine-'));
  try {
    const { stdout } = await run(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'examples/multi-engine/main.ts')], {
      cwd: dir,
      timeout: 30_000,
    });
    const lines = stdout.trim().split('\n').map((line) => /^(\w+)\.(run\w+)\.\S+ .* via (\w+)$/.exec(line));
    assert.equal(lines.length, 6, stdout);
    assert.ok(lines.every((match) => match !== null), `every line names topic and engine:\n${stdout}`);
    const engines = { game: 'memory', billing: 'nats', shop: 'sqlite' } as Record<string, string>;
    for (const [, family, , engine] of lines as RegExpExecArray[]) assert.equal(engine, engines[family], stdout);
    assert.deepEqual(lines.map((match) => match![1]).sort(), ['billing', 'billing', 'game', 'game', 'shop', 'shop']);
    // The engines hold what the lines claim: the SQLite file is there, NATS kept both billing messages.
    assert.ok(existsSync(join(dir, 'multi-engine.db')), 'the sqlite driver wrote the configured file');
    assert.equal(await purgeBilling(lines[0]![2]), 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
