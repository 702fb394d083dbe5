// The `omnibus` command as scripts use it: real processes, JSON lines on stdout, exit codes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../src/testing/wait.js';
import { freePort } from '../support/private-server.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'omnibus-cli-'));

type Run = Promise<{ code: number; stdout: string; stderr: string }> & { stderrSoFar(): string };

function omnibus(args: string[], input?: string): Run {
  let stderrSoFar = '';
  const run = new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', TSX, CLI, ...args], { cwd: dir, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
    child.stderr!.on('data', (chunk) => (stderrSoFar += chunk));
    if (input !== undefined) child.stdin!.end(input);
  }) as Run;
  run.stderrSoFar = () => stderrSoFar;
  return run;
}

describe('omnibus CLI', () => {
  let port: number;
  let server: ReturnType<typeof spawn>;
  let url: string;
  let serverLog = '';
  before(async () => {
    port = await freePort();
    url = `ws://127.0.0.1:${port}/v1/ws`;
    server = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--port', String(port), '--host', '127.0.0.1'], { cwd: dir });
    server.stdout!.on('data', (chunk) => (serverLog += chunk));
    while (!serverLog.includes('listening')) await new Promise((r) => setTimeout(r, 20));
  });
  after(() => {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serve defaults to SQLite at ./omnibus.db', () => {
    assert.match(serverLog, /over sqlite at .*omnibus\.db/);
    assert.ok(existsSync(join(dir, 'omnibus.db')));
  });

  it('pub takes JSON, @file and stdin and prints the id and seq; sub and replay print JSON lines', async () => {
    const subscribing = omnibus(['sub', 'cli.>', '--url', url, '--count', '3']);
    await eventually(() => subscribing.stderrSoFar().includes("subscribed to 'cli.>'"), 'the subscriber ready', 20_000);
    const first = await omnibus(['pub', 'cli.orders', '{"n":1}', '--url', url, '--key', 'k', '--header', 'x-a=b']);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(JSON.parse(first.stdout).seq);
    writeFileSync(join(dir, 'order.json'), '{"n":2}');
    assert.equal((await omnibus(['pub', 'cli.orders', '@order.json', '--url', url])).code, 0);
    assert.equal((await omnibus(['pub', 'cli.orders', '-', '--url', url], '{"n":3}')).code, 0);
    const sub = await subscribing;
    assert.equal(sub.code, 0, sub.stderr);
    const lines = sub.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((l) => l.data.n), [1, 2, 3]);
    assert.equal(lines[0].key, 'k');
    assert.equal(lines[0].headers['x-a'], 'b');
    const replay = await omnibus(['replay', 'cli.orders', '--url', url, '--from', lines[1].seq]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.deepEqual(replay.stdout.trim().split('\n').map((line) => JSON.parse(line).data.n), [2, 3]);
    const replayed = JSON.parse(replay.stdout.trim().split('\n')[0]);
    assert.equal(replayed.messageId, lines[1].messageId);
    assert.equal(JSON.parse(first.stdout).messageId, lines[0].messageId, 'pub and sub name the id as the HTTP API does');
    assert.equal(replayed.seq, lines[1].seq);
    const limited = await omnibus(['replay', 'cli.>', '--url', url, '--limit', '2']);
    assert.deepEqual(limited.stdout.trim().split('\n').map((line) => JSON.parse(line).data.n), [1, 2]);
    const topics = await omnibus(['topics', '--url', url]);
    assert.equal(JSON.parse(topics.stdout.trim().split('\n')[0]).topic, 'cli.orders');
  });

  it('exits 2 on usage errors and 1 on runtime failures, with the reason on stderr', async () => {
    const usage = await omnibus(['pub']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing required argument/);
    const badTopic = await omnibus(['pub', 'a..b', '1', '--url', url]);
    assert.equal(badTopic.code, 1);
    assert.match(badTopic.stderr, /empty token at position 2/);
    const down = await omnibus(['pub', 'a.b', '1', '--url', 'ws://127.0.0.1:1/v1/ws']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^omnibus: cannot reach the gateway at ws:\/\/127\.0\.0\.1:1\/v1\/ws .*is `omnibus serve` running\?/);
    assert.doesNotMatch(down.stderr, /frames=batch/);
    const closed = await freePort();
    const downHttp = await omnibus(['topics', '--url', `ws://127.0.0.1:${closed}/v1/ws`]);
    assert.equal(downHttp.code, 1);
    assert.match(downHttp.stderr, new RegExp(`cannot reach the gateway at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\); is \`omnibus serve\` running\\?`));
    const help = await omnibus(['sub', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--group/);
  });

  it('refuses bad arguments with exit code 2 and the reason, before doing anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['pub', 'a.b', '{bad', '--url', url], /'\{bad' is not valid JSON; .* --raw/],
      [['sub', 'a.b', '--count', 'abc', '--url', url], /--count takes a whole number of at least 1, not 'abc'/],
      [['sub', 'a.b', '--count', '0', '--url', url], /--count takes a whole number of at least 1, not '0'/],
      [['replay', 'a.b', '--limit', '-3', '--url', url], /--limit takes a whole number of at least 1, not '-3'/],
      [['sub', 'a.b', '--from', 'yesterday', '--url', url], /--from takes 'earliest', 'latest', an ISO time .* not 'yesterday'/],
      [['pub', 'a.b', '1', '--ttl', 'abc', '--url', url], /--ttl takes a whole number of at least 1, not 'abc'/],
      [['serve', '--memory', '--db', 'x.db'], /--memory and --db each choose the driver/],
      [['serve', '--memory', '--host', '0.0.0.0', '--port', '0'], /no auth, so on 0\.0\.0\.0 anyone .* --insecure/],
    ];
    for (const [args, reason] of cases) {
      const result = await omnibus(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, reason, args.join(' '));
    }
    const version = await omnibus(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('pub --raw sends the text as a string', async () => {
    const subscribing = omnibus(['sub', 'raw.>', '--url', url, '--count', '1']);
    await eventually(() => subscribing.stderrSoFar().includes("subscribed to 'raw.>'"), 'the subscriber ready', 20_000);
    assert.equal((await omnibus(['pub', 'raw.t', '{not json', '--raw', '--url', url])).code, 0);
    const { stdout } = await subscribing;
    assert.equal(JSON.parse(stdout).data, '{not json');
  });

  it("serve takes the driver and the gateway's auth from omnibus.config.json", async () => {
    const configured = mkdtempSync(join(tmpdir(), 'omnibus-cli-config-'));
    writeFileSync(join(configured, 'omnibus.config.json'), JSON.stringify({ driver: { type: 'memory' }, gateway: { auth: { apiKeys: [{ key: 'secret-key' }] } } }));
    const other = await freePort();
    const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--port', String(other), '--host', '127.0.0.1'], { cwd: configured });
    let log = '';
    child.stdout!.on('data', (chunk) => (log += chunk));
    try {
      while (!log.includes('listening')) await new Promise((r) => setTimeout(r, 20));
      assert.match(log, /over memory \(from configuration\)/);
      const otherUrl = `ws://127.0.0.1:${other}/v1/ws`;
      const refused = await omnibus(['pub', 'a.b', '1', '--url', otherUrl]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /requires a token/);
      const allowed = await omnibus(['pub', 'a.b', '1', '--url', otherUrl, '--token', 'secret-key']);
      assert.equal(allowed.code, 0, allowed.stderr);
    } finally {
      child.kill('SIGKILL');
      rmSync(configured, { recursive: true, force: true });
    }
  });

  it('serve stops gracefully on SIGTERM with exit code 0', async () => {
    const other = await freePort();
    const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--port', String(other), '--host', '127.0.0.1', '--memory'], { cwd: dir });
    let log = '';
    child.stdout!.on('data', (chunk) => (log += chunk));
    while (!log.includes('listening')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.match(log, /SIGTERM: stopping/);
  });
});
