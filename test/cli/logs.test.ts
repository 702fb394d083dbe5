// `omnibus serve` logs JSON lines through pino on stdout: levels, the start-up configuration
// with its secrets kept out, and a line for each refused request.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { eventually } from '../../src/testing/wait.js';
import { RawSocket } from '../support/gateway.js';
import { freePort } from '../support/private-server.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'omnibus-logs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Line {
  level: number;
  msg: string;
  [field: string]: any;
}

interface Served {
  port: number;
  output: () => string;
  lines: () => Line[];
  stop: () => Promise<number | null>;
}

/** `omnibus serve` with `args`, once its port answers /healthz (with any status). */
async function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const port = await freePort();
  const { OMNIBUS_LOG_LEVEL: _level, OMNIBUS_URL: _url, OMNIBUS_CONFIG: _config, ...inherited } = process.env;
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--port', String(port), '--host', '127.0.0.1', ...args], {
    cwd: dir,
    env: { ...inherited, ...env },
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  let up = false;
  const deadline = Date.now() + 20_000;
  while (!up) {
    if (child.exitCode !== null) throw new Error(`omnibus serve exited with ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`omnibus serve did not answer: ${output}`);
    up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => true,
      () => false,
    );
  }
  return {
    port,
    output: () => output,
    lines: () =>
      output
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Line),
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

describe('omnibus serve logs', () => {
  it('writes JSON lines: the start-up configuration, listening, and the shutdown steps', async () => {
    const served = await serve(['--memory']);
    assert.equal(await served.stop(), 0);
    const lines = served.lines();
    const starting = lines.find((line) => line.msg === 'starting');
    assert.equal(starting?.level, 30, served.output());
    assert.deepEqual(starting.config.driver, { type: 'memory' });
    assert.equal(starting.config.port, served.port);
    const listening = lines.find((line) => line.msg.includes('listening'));
    assert.equal(listening?.level, 30);
    assert.equal(listening.url, `http://127.0.0.1:${served.port}`);
    assert.equal(listening.websocket, '/v1/ws');
    assert.ok(typeof listening.time === 'number' && listening.name === 'omnibus');
    const steps = lines.slice(lines.indexOf(listening) + 1).map((line) => line.msg);
    assert.match(steps[0], /^SIGTERM: stopping/);
    assert.ok(steps.includes('gateway closed') && steps.at(-1)!.endsWith('stopped'), steps.join(' | '));
  });

  it('never writes the password of OMNIBUS_URL, and logs the driver being down as an error', async () => {
    // Redis refuses the made-up user, so the driver is down and its error names the URL.
    const served = await serve([], { OMNIBUS_URL: 'redis://someone:pa55-w0rd-xyz@127.0.0.1:6379' });
    await eventually(() => served.output().includes('driver is not connected'), 'the driver-down line', 10_000);
    await served.stop();
    assert.doesNotMatch(served.output(), /pa55-w0rd-xyz/);
    const lines = served.lines();
    assert.equal(lines.find((line) => line.msg === 'starting')?.config.driver.url, 'redis://someone:[redacted]@127.0.0.1:6379');
    const down = lines.find((line) => line.msg.startsWith('driver is not connected'));
    assert.equal(down?.level, 50);
    assert.equal(down.driver, 'redis');
  });

  it('logs a dead letter with its topic, message id and dead-letter topic', async () => {
    const served = await serve(['--memory']);
    const socket = await RawSocket.open(`ws://127.0.0.1:${served.port}/v1/ws`);
    try {
      await socket.request({ type: 'subscribe', subscription: 'jobs', pattern: 'jobs.resize', deadLetter: 'jobs.failed' });
      await socket.request({ type: 'publish', topic: 'jobs.resize', data: { image: 7 } });
      const delivered = await socket.waitFor((f) => f.type === 'message' && f.subscription === 'jobs');
      await socket.request({ type: 'reject', deliveries: [delivered.delivery], reason: 'corrupt image' });
      await eventually(() => served.output().includes('dead-lettered'), 'the dead-letter line');
    } finally {
      socket.close();
      await served.stop();
    }
    const line = served.lines().find((l) => l.msg === 'dead-lettered')!;
    assert.equal(line.level, 40);
    assert.equal(line.topic, 'jobs.resize');
    assert.equal(line.deadLetter, 'jobs.failed');
    assert.ok(line.messageId && line.attempts >= 1);
  });

  it('--log-level warn hides info lines; the flag wins over OMNIBUS_LOG_LEVEL', async () => {
    const quiet = await serve(['--memory', '--log-level', 'warn']);
    await quiet.stop();
    assert.equal(quiet.output(), '', 'nothing at warn or above happened');
    const fromEnv = await serve(['--memory'], { OMNIBUS_LOG_LEVEL: 'warn' });
    await fromEnv.stop();
    assert.equal(fromEnv.output(), '');
    const flagWins = await serve(['--memory', '--log-level', 'info'], { OMNIBUS_LOG_LEVEL: 'warn' });
    await flagWins.stop();
    assert.ok(flagWins.lines().some((line) => line.msg.includes('listening')));
  });

  it('logs a refused request with who asked, and keeps keys and JWT secrets out of the start-up line', async () => {
    const config = join(dir, 'auth.config.json');
    const auth = { apiKeys: [{ key: 'reader-key-0123456789', name: 'reader', publish: [], subscribe: ['public.>'] }], jwt: { secret: 'jwt-secret-0123456789' } };
    writeFileSync(config, JSON.stringify({ driver: { type: 'memory' }, gateway: { auth } }));
    const served = await serve(['--config', config, '--log-level', 'warn']);
    const answer = await fetch(`http://127.0.0.1:${served.port}/v1/messages?topic=private.x`, { headers: { authorization: 'Bearer reader-key-0123456789' } });
    assert.equal(answer.status, 403);
    await eventually(() => served.output().includes('refused'), 'the refusal line');
    await served.stop();
    const refused = served.lines().find((line) => line.msg === 'refused');
    assert.equal(refused?.level, 40);
    assert.equal(refused.code, 'FORBIDDEN');
    assert.equal(refused.name, 'reader');
    assert.equal(refused.route, 'GET /v1/messages');
    assert.match(refused.reason, /private\.x/);

    const verbose = await serve(['--config', config]);
    await verbose.stop();
    const starting = verbose.lines().find((line) => line.msg === 'starting');
    assert.equal(starting?.config.gateway.auth.apiKeys[0].key, '[redacted]');
    assert.equal(starting.config.gateway.auth.jwt.secret, '[redacted]');
    assert.doesNotMatch(verbose.output(), /reader-key-0123456789|jwt-secret-0123456789/);
  });
});
