// `npm start` as a container runtime runs it: the built CLI serves, and SIGTERM sent to npm
// stops the gateway (the signal must reach node, not stop at a shell in between).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { eventually } from '../../src/testing/wait.js';
import { freePort } from '../support/private-server.js';

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('npm start', () => {
  it('serves from the built CLI and stops when npm gets SIGTERM', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const npm = spawn('npm', ['start', '--', '--port', String(port), '--host', '127.0.0.1', '--memory'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout!.on('data', (chunk) => (output += chunk));
    npm.stderr!.on('data', (chunk) => (output += chunk));
    try {
      await eventually(() => output.includes('listening'), 'the gateway listening', 30_000);
      assert.match(output, /node dist\/cli\/main\.js serve/, 'npm start runs the built CLI');
      assert.ok(await listening(port));
      npm.kill('SIGTERM');
      const [code] = await once(npm, 'exit');
      assert.equal(code, 0, output);
      assert.equal(await listening(port), false, 'nothing serves the port after SIGTERM');
    } finally {
      npm.kill('SIGKILL');
    }
  });
});
