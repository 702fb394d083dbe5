// The durable log: inserting published messages under a global seq (an id once within its
// dedupe window), reading them back in seq order, and finding where a `from` position starts.

import type { Database, Statement } from 'better-sqlite3';
import type { From, WireMessage } from '../../core/driver.js';
import { InvalidPositionError } from '../../core/errors.js';
import { headersJson, isJsonTypeOnly, jsonTypeHeaders } from '../../driver-kit/json-headers.js';

export interface StoredRow {
  seq: number;
  id: string;
  topic: string;
  key: string | null;
  headers: string;
  time: number;
  expires: number | null;
  body: Buffer;
}

const COLUMNS = 'seq, id, topic, key, headers, time, expires, body';
/** The most rows one insert statement takes (7 parameters each, far below SQLite's 32,766). */
const MULTI_ROWS = 64;

/** Per topic, the messages and bytes a transaction stored, for `topics`. */
type TopicCounts = Map<string, [number, number]>;

function count(counts: TopicCounts, topic: string, size: number): void {
  const entry = counts.get(topic);
  if (entry === undefined) counts.set(topic, [1, size]);
  else {
    entry[0]++;
    entry[1] += size;
  }
}

/**
 * Nearly every message's headers are the JSON codec's content type alone: stored as `{}`
 * (35 bytes fewer per row, no JSON to write or parse) and read back as it. No headers at all
 * are stored as `{ }`, which still parses to none.
 */
const JSON_ONLY = '{}';
const NO_HEADERS = '{ }';

/** The headers column for `headers`. */
function headersColumn(headers: Record<string, string>): string {
  if (isJsonTypeOnly(headers)) return JSON_ONLY;
  for (const _ in headers) return headersJson(headers);
  return NO_HEADERS;
}

/** Where a published message went: its seq, and whether its id was already stored within the window (then the seq is the stored one's). */
export interface Stored {
  seq: number;
  duplicate: boolean;
}

export function toWire(row: StoredRow): WireMessage {
  return {
    id: row.id,
    topic: row.topic,
    headers: row.headers === JSON_ONLY ? jsonTypeHeaders() : JSON.parse(row.headers),
    key: row.key ?? undefined,
    time: row.time,
    ttlMs: row.expires === null ? undefined : row.expires - row.time,
    seq: String(row.seq),
    body: row.body,
  };
}

export function isExpired(row: StoredRow, now: number): boolean {
  return row.expires !== null && row.expires <= now;
}

export class MessageLog {
  private readonly insertRow: Statement;
  private readonly rememberedSeq: Statement;
  private readonly remember: Statement;
  private readonly countTopic: Statement;
  private readonly readAfter: Statement;
  private readonly readTopicAfter: Statement;
  private readonly readOne: Statement;
  private readonly lastSeq: Statement;
  private readonly firstAt: Statement;
  /** Chosen ids stored in the open transaction, with their seqs: `dedupe` learns them in one statement as it ends. */
  private readonly unremembered = new Map<string, number>();
  private readonly multiInserts = new Map<number, Statement>();

  constructor(
    private readonly db: Database,
    private readonly dedupeWindowMs: number,
  ) {
    // The window check rides in the insert, and remembering is one statement per transaction: on
    // this path a statement costs more than the rows it writes.
    this.insertRow = db.prepare(
      'INSERT INTO messages (id, topic, key, headers, time, expires, body) SELECT ?, ?, ?, ?, ?, ?, ? ' +
        'WHERE NOT EXISTS (SELECT 1 FROM dedupe WHERE id = ? AND until > ?)',
    );
    this.rememberedSeq = db.prepare('SELECT seq FROM dedupe WHERE id = ?').pluck();
    // Replaces the row of an id whose window has passed and retention has not pruned yet.
    this.remember = db.prepare(
      "INSERT OR REPLACE INTO dedupe (id, seq, until) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ? FROM json_each(?)",
    );
    this.countTopic = db.prepare(
      'INSERT INTO topics (topic, messages, bytes) VALUES (?, ?, ?) ' +
        'ON CONFLICT (topic) DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes',
    );
    this.readAfter = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.readTopicAfter = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.readOne = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE seq = ?`);
    this.lastSeq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").pluck();
    this.firstAt = db.prepare('SELECT seq, time FROM messages WHERE seq >= ? ORDER BY seq LIMIT 1');
  }

  /**
   * Stores a batch inside the caller's transaction, except ids stored within the dedupe window
   * (by any process: the write lock orders the lookups) or earlier in the transaction. The
   * transaction must end with `endTransaction`.
   */
  insert(batch: WireMessage[]): Stored[] {
    const now = Date.now();
    const stored: Stored[] = new Array(batch.length);
    const counts: TopicCounts = new Map();
    let run = 0;
    for (let i = 0; i < batch.length; i++) {
      const wire = batch[i];
      // An id the bus made up for this publish cannot be stored yet, and no retry can carry it:
      // no lookup and no memory (as JetStream without Nats-Msg-Id). A run of them goes in
      // multi-row statements, in order, so seqs still follow the batch.
      if (wire.newId === true) {
        run++;
        continue;
      }
      if (run > 0) this.insertNew(batch, i - run, run, stored, counts);
      run = 0;
      stored[i] = this.insertChosen(wire, now, counts);
    }
    if (run > 0) this.insertNew(batch, batch.length - run, run, stored, counts);
    for (const [topic, [messages, bytes]] of counts) this.countTopic.run(topic, messages, bytes);
    return stored;
  }

  /** One message whose id the publisher chose: stored unless the window or this transaction has it. */
  private insertChosen(wire: WireMessage, now: number, counts: TopicCounts): Stored {
    const earlier = this.unremembered.get(wire.id);
    if (earlier !== undefined) return { seq: earlier, duplicate: true };
    const headers = headersColumn(wire.headers);
    const expires = wire.ttlMs === undefined ? null : wire.time + wire.ttlMs;
    const result = this.insertRow.run(wire.id, wire.topic, wire.key ?? null, headers, wire.time, expires, wire.body, wire.id, now);
    if (result.changes === 0) return { seq: this.rememberedSeq.get(wire.id) as number, duplicate: true };
    const seq = Number(result.lastInsertRowid);
    this.unremembered.set(wire.id, seq);
    count(counts, wire.topic, wire.body.length + headers.length);
    return { seq, duplicate: false };
  }

  /**
   * `length` messages from `start` with bus-made ids, in statements of up to MULTI_ROWS rows (a
   * statement costs more than the rows it writes). One statement's rows take consecutive seqs:
   * AUTOINCREMENT hands out one more than the highest, row by row, and the write lock keeps
   * other writers out.
   */
  private insertNew(batch: WireMessage[], start: number, length: number, stored: Stored[], counts: TopicCounts): void {
    let at = start;
    const end = start + length;
    while (at < end) {
      let rows = MULTI_ROWS;
      while (rows > end - at) rows >>= 1;
      const args: unknown[] = new Array(rows * 7);
      for (let j = 0; j < rows; j++) {
        const wire = batch[at + j];
        const headers = headersColumn(wire.headers);
        const o = j * 7;
        args[o] = wire.id;
        args[o + 1] = wire.topic;
        args[o + 2] = wire.key ?? null;
        args[o + 3] = headers;
        args[o + 4] = wire.time;
        args[o + 5] = wire.ttlMs === undefined ? null : wire.time + wire.ttlMs;
        args[o + 6] = wire.body;
        count(counts, wire.topic, wire.body.length + headers.length);
      }
      const last = Number(this.multiInsert(rows).run(args).lastInsertRowid);
      for (let j = 0; j < rows; j++) {
        stored[at + j] = { seq: last - rows + 1 + j, duplicate: false };
      }
      at += rows;
    }
  }

  /** The insert of `rows` rows (a power of two up to MULTI_ROWS), prepared on first use. */
  private multiInsert(rows: number): Statement {
    let statement = this.multiInserts.get(rows);
    if (statement === undefined) {
      const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ');
      statement = this.db.prepare(`INSERT INTO messages (id, topic, key, headers, time, expires, body) VALUES ${values}`);
      this.multiInserts.set(rows, statement);
    }
    return statement;
  }

  /** The last step of a transaction that inserted: remembers its ids from now, for the window (nothing if it is failing). */
  endTransaction(failing: boolean): void {
    if (this.unremembered.size === 0) return;
    const ids = JSON.stringify([...this.unremembered]);
    this.unremembered.clear();
    if (!failing) this.remember.run(Date.now() + this.dedupeWindowMs, ids);
  }

  /** Messages after `seq`, oldest first; only `topic`'s when the pattern is a concrete topic. */
  read(after: number, limit: number, topic?: string): StoredRow[] {
    return (topic === undefined ? this.readAfter.all(after, limit) : this.readTopicAfter.all(topic, after, limit)) as StoredRow[];
  }

  get(seq: number): StoredRow | undefined {
    return this.readOne.get(seq) as StoredRow | undefined;
  }

  /** The highest seq ever assigned (0 for a new file), even if retention removed it. */
  head(): number {
    return (this.lastSeq.get() as number | undefined) ?? 0;
  }

  /** The position just before `from`: a subscription starting there receives seq > position. */
  positionFor(from: From | undefined): number {
    if (from === undefined || from === 'latest') return this.head();
    if (from === 'earliest') return 0;
    if ('seq' in from) {
      const seq = /^\d+$/.test(String(from.seq)) ? Number(from.seq) : NaN;
      if (!Number.isSafeInteger(seq)) {
        throw new InvalidPositionError(`from: { seq: ${JSON.stringify(from.seq)} } is not a sqlite seq; use a seq a publish or message returned`);
      }
      return Math.max(0, seq - 1);
    }
    const time = new Date(from.time).getTime();
    if (Number.isNaN(time)) throw new InvalidPositionError(`from: { time: ${String(from.time)} } is not a valid time`);
    return this.positionBeforeTime(time);
  }

  /** Binary search over seq: times follow seq closely (they come from the publishers' clocks). */
  private positionBeforeTime(time: number): number {
    let low = 1;
    let high = this.head();
    let answer = high;
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      const row = this.firstAt.get(middle) as { seq: number; time: number } | undefined;
      if (row === undefined || row.time >= time) {
        answer = middle - 1;
        high = middle - 1;
      } else low = row.seq + 1;
    }
    return Math.max(0, answer);
  }
}
