// Shared by the Kinesis tests: kinesalite on a free loopback port for each test file (or the
// endpoint in KINESIS_ENDPOINT), stopped when the file's tests end, and a fresh SQLite
// checkpoint file per call. kinesalite is a dev dependency, so nothing needs starting first.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brokerSkip } from './broker.js';
import { startPrivateServer, type PrivateServer } from './private-server.js';

const KINESALITE = resolve(fileURLToPath(import.meta.url), '../../../node_modules/.bin/kinesalite');

export interface KinesisForTests {
  /** For `describe(..., { skip })`. */
  skip: string | false;
  endpoint: string;
}

/** A kinesalite of this test only, in memory: streams become active after 50 ms instead of 500. */
export async function startKinesalite(): Promise<PrivateServer & { endpoint: string }> {
  const server = await startPrivateServer({
    name: 'kinesalite',
    command: KINESALITE,
    args: (port) => ['--port', String(port), '--createStreamMs', '50', '--deleteStreamMs', '50', '--shardLimit', '1000'],
  });
  return Object.assign(server, { endpoint: `http://127.0.0.1:${server.port}` });
}

/** For a test file's top level: KINESIS_ENDPOINT when set, else a kinesalite that lives until the file's tests end. */
export async function kinesisForTests(): Promise<KinesisForTests> {
  const shared = process.env.KINESIS_ENDPOINT;
  if (shared) {
    const skip = await brokerSkip({ name: 'Kinesis', url: shared, start: 'unset KINESIS_ENDPOINT for a kinesalite per test file' });
    return { skip, endpoint: shared };
  }
  const server = await startKinesalite();
  after(() => server.dispose());
  return { skip: false, endpoint: server.endpoint };
}

/** A checkpoint file in a directory removed when the file's tests end: `sqlite:<path>`. */
export function checkpointFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-kinesis-checkpoints-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, 'checkpoints.db')}`;
}
