// The tables an Omnibus database holds (documented for operators in docs/sqlite.md), and
// the check that a file opened is one of ours, at a version this code understands.

import type { Database } from 'better-sqlite3';
import { ConfigurationError } from '../../core/errors.js';

export const SCHEMA_VERSION = 2;

/** The log. An id may repeat once its dedupe window has passed, so `id` is not unique here: `dedupe` decides. */
function messagesTable(name: string): string {
  return `CREATE TABLE ${name} (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  id      TEXT NOT NULL,
  topic   TEXT NOT NULL,
  key     TEXT,
  headers TEXT NOT NULL,
  time    INTEGER NOT NULL,
  expires INTEGER,
  body    BLOB NOT NULL
);`;
}

/** The ids stored within their dedupe window: the seq each was stored under, and until when (epoch ms) it is remembered. */
const DEDUPE = `
CREATE TABLE dedupe (
  id    TEXT PRIMARY KEY,
  seq   INTEGER NOT NULL,
  until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedupe_until ON dedupe (until);
`;

const CREATE = `
CREATE TABLE omnibus_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
${messagesTable('messages')}
CREATE INDEX messages_topic ON messages (topic, seq);
CREATE INDEX messages_expires ON messages (expires) WHERE expires IS NOT NULL;
${DEDUPE}
CREATE TABLE topics (
  topic    TEXT PRIMARY KEY,
  messages INTEGER NOT NULL,
  bytes    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE groups (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL,
  pattern  TEXT NOT NULL,
  position INTEGER NOT NULL,
  created  INTEGER NOT NULL,
  UNIQUE (name, pattern)
);
CREATE TABLE leases (
  group_id INTEGER NOT NULL,
  seq      INTEGER NOT NULL,
  attempt  INTEGER NOT NULL,
  deadline INTEGER NOT NULL,
  owner    TEXT,
  PRIMARY KEY (group_id, seq)
) WITHOUT ROWID;
CREATE INDEX leases_due ON leases (group_id, deadline);
CREATE TABLE owners (
  id      TEXT PRIMARY KEY,
  pid     INTEGER NOT NULL,
  host    TEXT NOT NULL,
  started INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * Messages published with a due time, until they move into `messages`. Added to version 1 files
 * as they open: older code ignores the table (and so holds its messages back until opened anew).
 */
const DELAYED = `
CREATE TABLE IF NOT EXISTS delayed (
  id      TEXT NOT NULL UNIQUE,
  due     INTEGER NOT NULL,
  topic   TEXT NOT NULL,
  key     TEXT,
  headers TEXT NOT NULL,
  ttl     INTEGER,
  body    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS delayed_due ON delayed (due);
`;

/**
 * Creates the schema in an empty file, or checks that an existing one is ours, upgrading a
 * version 1 file in place. `dedupeWindowMs` fills the dedupe table of an upgraded file.
 */
export function ensureSchema(db: Database, file: string, dedupeWindowMs: number): void {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map(
    (row) => row.name,
  );
  if (tables.length === 0) {
    db.transaction(() => {
      // Another process may have created it since the check above.
      const again = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'omnibus_meta'").get() as { n: number };
      if (again.n > 0) return;
      db.exec(CREATE + DELAYED);
      db.prepare("INSERT INTO omnibus_meta (key, value) VALUES ('format', 'omnibus'), ('schema_version', ?)").run(
        String(SCHEMA_VERSION),
      );
    }).immediate();
    return;
  }
  if (!tables.includes('omnibus_meta')) {
    throw new ConfigurationError(
      `${file} is a SQLite database but not an Omnibus one (it has tables ${tables.slice(0, 5).join(', ')}); ` +
        'give the sqlite driver a path of its own',
    );
  }
  if (schemaVersion(db) === '1') {
    // Checked again under the write lock: another process may be upgrading it right now.
    db.transaction(() => {
      if (schemaVersion(db) === '1') upgradeFromVersion1(db, dedupeWindowMs);
    }).immediate();
  }
  const version = schemaVersion(db);
  if (Number(version) !== SCHEMA_VERSION) {
    throw new ConfigurationError(
      `${file} has Omnibus schema version ${version ?? 'unknown'}, but this version of Omnibus reads version ${SCHEMA_VERSION}; ` +
        'open it with the Omnibus version that wrote it',
    );
  }
  if (!tables.includes('delayed')) db.exec(DELAYED);
}

function schemaVersion(db: Database): string | undefined {
  const row = db.prepare("SELECT value FROM omnibus_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
  return row?.value;
}

/**
 * Version 1 kept `messages.id` UNIQUE, which SQLite cannot drop: the table is rebuilt with
 * the same rows and seqs, the AUTOINCREMENT counter carried over (retention may have deleted
 * the newest seqs, which must never be handed out again), and ids stored within the window
 * go into `dedupe`. Runs inside the caller's transaction.
 */
function upgradeFromVersion1(db: Database, dedupeWindowMs: number): void {
  const counter = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").pluck().get() as number | undefined;
  db.exec(`${messagesTable('messages_v2')}
INSERT INTO messages_v2 (seq, id, topic, key, headers, time, expires, body)
  SELECT seq, id, topic, key, headers, time, expires, body FROM messages ORDER BY seq;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
CREATE INDEX messages_topic ON messages (topic, seq);
CREATE INDEX messages_expires ON messages (expires) WHERE expires IS NOT NULL;
${DEDUPE}`);
  if (counter !== undefined) db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'messages'").run(counter);
  // A version 1 file has no storing time: the publisher's `time` stands in for it.
  db.prepare('INSERT INTO dedupe (id, seq, until) SELECT id, seq, time + ? FROM messages WHERE time + ? > ?').run(
    dedupeWindowMs,
    dedupeWindowMs,
    Date.now(),
  );
  db.prepare("UPDATE omnibus_meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
}
