// The package as a user gets it: packed, installed into a fresh ESM project, every subpath
// export imported, the `omnibus` bin run, and a strict TypeScript project compiled against
// the shipped declarations (skipLibCheck off).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

const run = promisify(execFile);
const root = resolve('.');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; exports: Record<string, unknown> };
const dir = mkdtempSync(join(tmpdir(), 'omnibus-consumer-'));
const subpaths = Object.keys(pkg.exports).filter((subpath) => subpath !== './package.json');
const specifier = (subpath: string) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);

describe('the packed package in a fresh project', { timeout: 300_000 }, () => {
  before(async () => {
    // npm pack runs `prepare`, which builds dist/ from the sources as they are.
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    const tarball = join(dir, stdout.trim().split('\n').at(-1)!);
    const project = join(dir, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const installed = await run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
    installOutput = installed.stdout + installed.stderr;
  });
  let installOutput = '';
  after(() => rmSync(dir, { recursive: true, force: true }));
  const project = join(dir, 'app');

  it('installs without engine warnings', () => {
    assert.doesNotMatch(installOutput, /EBADENGINE/);
  });

  it('imports every subpath export, without any optional broker client installed', async () => {
    const lines = subpaths.map((subpath, n) => `import * as m${n} from '${specifier(subpath)}';\nconsole.log('${subpath}', Object.keys(m${n}).length);`);
    writeFileSync(join(project, 'imports.js'), lines.join('\n'));
    const { stdout } = await run(process.execPath, ['imports.js'], { cwd: project });
    for (const subpath of subpaths) assert.match(stdout, new RegExp(`^${subpath.replace(/[./]/g, '\\$&')} [1-9]`, 'm'), `${subpath} exports something`);
  });

  it('says which package to install when a driver is used without its broker client', async () => {
    const drivers: Array<[string, string, string]> = [
      ['sqlite', "sqlite({ path: 'app.db' })", 'better-sqlite3'],
      ['redis', 'redis()', 'ioredis'],
      ['nats', 'nats()', '@nats-io/transport-node'],
      ['postgres', 'postgres()', 'pg'],
    ];
    const lines = drivers.map(
      ([name, make], n) =>
        `import { ${name} } from 'omnibus/drivers/${name}';\n` +
        `const bus${n} = createBus({ driver: ${make} });\n` +
        `await bus${n}.publish('a.b', 1).then(() => console.log('${name} published'), (e) => console.log('${name}', e.name, e.message));`,
    );
    writeFileSync(join(project, 'missing.js'), [`import { createBus } from 'omnibus';`, ...lines].join('\n'));
    const { stdout } = await run(process.execPath, ['missing.js'], { cwd: project });
    for (const [name, , pkg] of drivers) {
      assert.match(stdout, new RegExp(`^${name} ConfigurationError .*install it with: npm install ${pkg.replace('/', '\\/')}$`, 'm'), stdout);
    }
  });

  it('runs the omnibus bin', async () => {
    const { stdout } = await run(join(project, 'node_modules', '.bin', 'omnibus'), ['--help'], { cwd: project });
    assert.match(stdout, /Usage: omnibus/);
    assert.match(stdout, /serve/);
  });

  it('type-checks a strict consumer against the shipped declarations', async () => {
    // Only Node's own types come along, as in a user's project (no @types/ws, no @types/better-sqlite3).
    mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        include: ['consumer.ts'],
      }),
    );
    writeFileSync(
      join(project, 'consumer.ts'),
      [
        "import { z } from 'zod';",
        "import { createBus, defineEvent, type Message } from 'omnibus';",
        "import { memory } from 'omnibus/drivers/memory';",
        "import { sqlite } from 'omnibus/drivers/sqlite';",
        "import { createGateway } from 'omnibus/gateway';",
        "import { createClient } from 'omnibus/client';",
        "import { createTestBus } from 'omnibus/testing';",
        "import { collectMetrics } from 'omnibus/metrics';",
        "const Placed = defineEvent('orders.placed', z.object({ id: z.string() }));",
        'const bus = createBus({ driver: memory() });',
        "await bus.subscribe(Placed, (message: Message<{ id: string }>) => void message.data.id.toUpperCase());",
        "await bus.publish(Placed, { id: 'o-1' }, { key: 'k' });",
        'const gateway = createGateway({ bus });',
        "const client = createClient({ url: 'ws://127.0.0.1:4000/v1/ws' });",
        "void [gateway, client, createTestBus, collectMetrics, sqlite({ path: 'app.db' })];",
        'await bus.close();',
      ].join('\n'),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', project], { cwd: project }).catch((error: { stdout: string }) => error);
    assert.equal(result.stdout, '', `the strict consumer does not compile:\n${result.stdout}`);
  });
});

const KAFKA_CLIENT_HELPERS = /^@platformatic\/(dynamic-buffer|wasm-utils)@/;

describe('installing the repository', () => {
  it('leaves the committed lockfile as it is, with no engine warnings on the Node versions engines names', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'omnibus-lock-'));
    try {
      for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(root, file), join(copy, file));
      const { stdout, stderr } = await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: copy });
      // Two helpers of @platformatic/kafka (a dev dependency; the Kafka driver's optional peer)
      // declare Node >= 22.19 while the client itself supports 20.19.4 and its tests run here on
      // Node 20 (docs/kafka.md). Only their warnings are let through, by name.
      const warned = [...(stdout + stderr).matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((match) => match[1]);
      assert.deepEqual(warned.filter((name) => !KAFKA_CLIENT_HELPERS.test(name)), [], 'packages whose engines leave out this Node');
      assert.doesNotMatch((stdout + stderr).replace(/npm warn EBADENGINE.*\n/g, ''), /EBADENGINE/);
      // Compared line by line, naming the first difference: a failed equal of two whole
      // lockfiles prints a diff so large that node's test runner hangs on it.
      const wanted = readFileSync(join(copy, 'package-lock.json'), 'utf8').split('\n');
      const committed = readFileSync(join(root, 'package-lock.json'), 'utf8').split('\n');
      const at = wanted.findIndex((line, i) => line !== committed[i]);
      const differs = at !== -1 || wanted.length !== committed.length;
      assert.ok(!differs, `npm install would rewrite package-lock.json from line ${at + 1} (${JSON.stringify(wanted[at])}): run npm install and commit the lockfile it makes`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
