// Delayed delivery on SQLite beyond the conformance cases: a due time that passes while no
// process has the file open, files made before the delayed table, history and lag before due.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Bus } from '../../src/core/bus.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { eventually } from '../../src/testing/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-delays-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const busOn = (path: string) => new Bus({ drivers: { sqlite: sqlite({ path }) } });

describe('sqlite delayed delivery', () => {
  it('delivers at once, on the next open, a message that came due while no process had the file open', async () => {
    const path = join(dir, 'closed.db');
    const first = busOn(path);
    const due = Date.now() + 200;
    await first.publish('jobs.run', 'overdue', { deliverAt: new Date(due) });
    await first.close();
    await eventually(() => Date.now() > due + 300, 'the due time to pass with the file closed');
    const second = busOn(path);
    const got: unknown[] = [];
    const opened = Date.now();
    await second.subscribe('jobs.run', (message) => void got.push(message.data), { group: 'runner', from: 'earliest' });
    await eventually(() => got.length === 1, 'the overdue message');
    assert.ok(Date.now() - opened < 2_000, 'delivered soon after opening');
    assert.deepEqual(got, ['overdue']);
    await second.close();
  });

  it('keeps a delayed message out of history and lag until due, then numbers it', async () => {
    const path = join(dir, 'history.db');
    const bus = busOn(path);
    await bus.subscribe('jobs.audit', () => {}, { group: 'audit' }).then((sub) => sub.close());
    const result = await bus.publish('jobs.audit', 'held', { delayMs: 400 });
    assert.equal(result.seq, undefined, 'no position before it is due');
    const read = async () => {
      const seen: unknown[] = [];
      for await (const message of bus.read('jobs.audit')) seen.push(message.data);
      return seen;
    };
    assert.deepEqual(await read(), []);
    assert.deepEqual((await bus.lag()).map((entry) => entry.lag), [0]);
    const db = new Database(path, { readonly: true });
    await eventually(() => (db.prepare('SELECT count(*) FROM messages').pluck().get() as number) === 1, 'the message to enter the log');
    assert.equal(db.prepare('SELECT count(*) FROM delayed').pluck().get(), 0, 'and to leave the delayed table');
    db.close();
    assert.deepEqual(await read(), ['held']);
    await bus.close();
  });

  it('adds the delayed table to a file made before it, on open', async () => {
    const path = join(dir, 'older.db');
    const made = sqlite({ path });
    await made.ready();
    await made.close();
    const db = new Database(path);
    db.exec('DROP TABLE delayed');
    db.close();
    const bus = busOn(path);
    const got: unknown[] = [];
    await bus.subscribe('jobs.old', (message) => void got.push(message.data));
    await bus.publish('jobs.old', 'late', { delayMs: 100 });
    await eventually(() => got.length === 1, 'the delayed message on the upgraded file');
    await bus.close();
  });
});
