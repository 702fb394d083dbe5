// `omnibus pub --delay` and `--deliver-at` against a gateway: held until due, bad values are
// usage errors, and a driver without delays is refused with the bus's reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { RawSocket, startGateway, type Running } from '../support/gateway.js';
import { onGatewayWithoutDelays } from '../gateway/no-delays.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url).pathname;

function pub(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, CLI, 'pub', ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

describe('omnibus pub: delays (memory driver)', () => {
  let running: Running;
  before(async () => {
    running = await startGateway();
  });
  after(() => running.close());

  for (const [flag, value, dueFrom] of [
    ['--delay', '500ms', (sent: number) => sent + 500],
    ['--delay', '1s', (sent: number) => sent + 1_000],
    ['--deliver-at', undefined, () => 0],
  ] as const) {
    it(`${flag} holds the message until due`, async () => {
      const socket = await RawSocket.open(running.url);
      await socket.request({ type: 'subscribe', subscription: 's', pattern: 'later.cli', ack: 'auto' });
      const sent = Date.now();
      const at = new Date(sent + 700);
      const due = value === undefined ? at.getTime() : dueFrom(sent);
      const result = await pub(['later.cli', '{"n":1}', '--url', running.url, flag, value ?? at.toISOString()]);
      assert.equal(result.code, 0, result.stderr);
      await socket.waitFor((f) => f.type === 'message', 10_000);
      assert.ok(Date.now() >= due, 'delivered before it was due');
      socket.close();
    });
  }

  for (const args of [['--delay', '5'], ['--delay', '-1s'], ['--deliver-at', 'soon'], ['--delay', '1s', '--deliver-at', '2030-01-01T00:00:00Z']]) {
    it(`refuses ${args.join(' ')} as a usage error naming the flag`, async () => {
      const result = await pub(['later.cli', '1', '--url', running.url, ...args]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, args.includes('--deliver-at') && args.length === 2 ? /--deliver-at/ : /--delay/);
    });
  }
});

onGatewayWithoutDelays('omnibus pub: delays on a driver without them (NATS core)', 'fails with the bus\'s reason', async (running) => {
  const result = await pub(['later.cli', '1', '--url', running.url, '--delay', '1s']);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /cannot delay delivery/);
});
