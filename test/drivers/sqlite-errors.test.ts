// Bad input gives a clear typed error and never a partly written message: a file that is
// not an Omnibus database, a read-only path, a full disk, bad options.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Bus } from '../../src/core/bus.js';
import { ConfigurationError, InvalidTopicError, PublishError } from '../../src/core/errors.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-errors-'));
after(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});
let files = 0;
const freshFile = () => join(dir, `bad-${files++}.db`);
const driverModule = fileURLToPath(new URL('../../src/drivers/sqlite/index.ts', import.meta.url));

describe('sqlite driver on bad input', () => {
  it('refuses a file that is not a SQLite database with ConfigurationError, leaving it untouched', async () => {
    const file = freshFile();
    const garbage = Buffer.from('this is a text file, not a database\n'.repeat(200));
    writeFileSync(file, garbage);
    const driver = sqlite({ path: file });
    await assert.rejects(driver.ready(), (error: ConfigurationError) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /is not a readable Omnibus database/);
      return true;
    });
    const bus = new Bus({ drivers: { sqlite: driver } });
    await assert.rejects(bus.publish('any.topic', 1), ConfigurationError);
    assert.deepEqual(readFileSync(file), garbage);
  });

  it("refuses another application's SQLite database without writing to it", async () => {
    const file = freshFile();
    const other = new Database(file);
    other.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada')");
    other.close();
    await assert.rejects(sqlite({ path: file }).ready(), /is a SQLite database but not an Omnibus one \(it has tables customers\)/);
    const check = new Database(file, { readonly: true });
    assert.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), ['customers']);
    check.close();
  });

  it('refuses a file written by a newer schema version', async () => {
    const file = freshFile();
    await sqlite({ path: file }).ready();
    const db = new Database(file);
    db.prepare("UPDATE omnibus_meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    await assert.rejects(sqlite({ path: file }).ready(), (error: Error) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /schema version 99/);
      return true;
    });
  });

  it('reports a corrupted log as a typed error instead of delivering garbage', async () => {
    const file = freshFile();
    const bus = new Bus({ drivers: { sqlite: sqlite({ path: file }) } });
    await bus.publishMany(Array.from({ length: 500 }, (_, n) => ({ topic: 'corrupt.me', data: { n, pad: 'x'.repeat(200) } })));
    await bus.close();
    // Overwrite every page after the first two (the header and schema stay readable).
    const bytes = readFileSync(file);
    bytes.fill(0xa5, 8192);
    writeFileSync(file, bytes);
    const broken = new Bus({ drivers: { sqlite: sqlite({ path: file }) } });
    const errors: unknown[] = [];
    broken.on('error', (event) => errors.push(event.error));
    const outcome = await broken
      .subscribe('corrupt.me', () => {}, { from: 'earliest' })
      .then(() => broken.publish('corrupt.me', 1))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const error = outcome ?? errors[0];
    assert.ok(error instanceof ConfigurationError || error instanceof PublishError, `a typed error, got ${String(error)}`);
    assert.match((error as Error).message, /not a readable Omnibus database/);
    await broken.close().catch(() => {});
  });

  it('refuses a read-only directory with ConfigurationError', async () => {
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    chmodSync(dir, 0o755);
    const file = join(readOnly, 'omnibus.db');
    if (process.getuid?.() === 0) {
      // Root ignores permissions: ask as an unprivileged user in a child process.
      const script = `import { sqlite } from ${JSON.stringify(driverModule)};
        try { await sqlite({ path: ${JSON.stringify(file)} }).ready(); console.log('opened'); }
        catch (error) { console.log(error.name + ': ' + error.message); }`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
      });
      assert.match(child.stdout, /^ConfigurationError: cannot open .*read-only\/omnibus\.db .*writable/, child.stderr);
    } else {
      await assert.rejects(sqlite({ path: file }).ready(), ConfigurationError);
    }
  });

  it('refuses a connection opened read-only and a missing directory', async () => {
    const file = freshFile();
    await sqlite({ path: file }).ready();
    const readOnly = new Database(file, { readonly: true });
    await assert.rejects(sqlite({ database: readOnly }).ready(), /opened read-only/);
    readOnly.close();
    await assert.rejects(sqlite({ path: join(dir, 'no', 'such', 'dir.db') }).ready(), /check that its directory exists/);
  });

  it('fails a publish on a full disk with PublishError and stores no part of its batch', async () => {
    const file = freshFile();
    const db = new Database(file);
    const driver = sqlite({ database: db });
    const bus = new Bus({ drivers: { sqlite: driver } });
    await bus.publish('full.disk', 'first');
    // A database that may not grow: what SQLite reports when the disk is full.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
    const batch = Array.from({ length: 200 }, (_, n) => ({ topic: 'full.disk', data: { n, pad: 'x'.repeat(500) } }));
    await assert.rejects(bus.publishMany(batch), (error: PublishError) => {
      assert.ok(error instanceof PublishError);
      assert.equal(error.retriable, true);
      assert.equal(error.topic, 'full.disk');
      assert.match(error.message, /the disk is full .*nothing of this transaction was stored/);
      return true;
    });
    assert.equal(db.prepare("SELECT count(*) FROM messages WHERE topic = 'full.disk'").pluck().get(), 1);
    await bus.close();
    db.close();
  });

  it('fails a publish past a file size limit (ulimit -f) in a real process, leaving the file intact', () => {
    const file = freshFile();
    const script = `import { sqlite } from ${JSON.stringify(driverModule)};
      import { Bus } from ${JSON.stringify(fileURLToPath(new URL('../../src/core/bus.ts', import.meta.url)))};
      const bus = new Bus({ drivers: { sqlite: sqlite({ path: ${JSON.stringify(file)} }) } });
      bus.on('error', () => {});
      let stored = 0;
      try {
        for (;;) {
          await bus.publishMany(Array.from({ length: 10 }, () => ({ topic: 'limit.hit', data: 'x'.repeat(1000) })));
          stored += 10;
        }
      } catch (error) { console.log(stored + ' ' + error.name + ': ' + error.message); }
      await bus.close();`;
    const child = spawnSync('bash', ['-c', `ulimit -f 256 && exec "${process.execPath}" --import tsx --input-type=module -e "$0"`, script], {
      encoding: 'utf8',
    });
    const match = /^(\d+) PublishError: writing failed \(a full disk, a file size limit or an I\/O error\)/.exec(child.stdout);
    assert.ok(match, `child output: ${child.stdout} ${child.stderr}`);
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('quick_check', { simple: true }), 'ok');
    assert.equal(db.prepare('SELECT count(*) FROM messages').pluck().get(), Number(match[1]), 'every resolved batch, no partial one');
    db.close();
  });

  it('refuses a subscription from a seq or time that cannot be one', async () => {
    const bus = new Bus({ drivers: { sqlite: sqlite({ path: freshFile() }) } });
    await assert.rejects(bus.subscribe('any.topic', () => {}, { from: { seq: 'abc' } }), ConfigurationError);
    await assert.rejects(bus.subscribe('any.topic', () => {}, { from: { time: Number.NaN } }), /not a valid time/);
    await bus.close();
  });

  it('refuses bad options at once with typed errors', () => {
    assert.throws(() => sqlite({ synchronous: 'fast' as never }), /"synchronous" must be 'full', 'normal' or 'off'/);
    assert.throws(() => sqlite({ path: '' }), ConfigurationError);
    assert.throws(() => sqlite({ claimBatch: 0 }), /"claimBatch" must be a positive number/);
    assert.throws(() => sqlite({ retention: [{ topics: 'a..b' }] }), InvalidTopicError);
    assert.throws(() => sqlite({ retention: [{ topics: 'a.>', maxMessages: -1 }] }), /"maxMessages" must be a number >= 0/);
  });
});
