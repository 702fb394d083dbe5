// The statements the driver sends, built from its inputs; the functions they call are in schema.ts.

import type { WireMessage } from '../../core/driver.js';
import { headersJson } from '../../driver-kit/json-headers.js';
import type { Settle } from './consumer.js';
import { quoteIdent, withSchema } from './migrate.js';
import type { Position } from './positions.js';
import { MS, PUBLISH_LOCK } from './schema.js';

export interface Statement {
  name?: string;
  text: string;
  values: unknown[];
}

/** NOTIFY payloads are limited to 8,000 bytes; past this the payload is empty, meaning "any topic". */
const NOTIFY_LIMIT = 7_000;
/** Ephemeral (non-group) subscriptions whose process stopped heartbeating are removed after this. */
const EPHEMERAL_EXPIRY = '10 minutes';

/** Topics to wake, as one NOTIFY payload; past the limit it is empty, meaning "any topic". */
function notifyPayload(topics: Iterable<string>): string {
  const payload = [...new Set(topics)].join(',');
  return payload.length > NOTIFY_LIMIT ? '' : payload;
}

function bodyBuffer(wire: WireMessage): Buffer {
  return Buffer.from(wire.body.buffer, wire.body.byteOffset, wire.body.byteLength);
}

/** An array literal of numbers, built directly: `pg` would quote and escape each element as a string. */
function numberArray(numbers: Array<number | null>): string {
  return `{${numbers.map((n) => (n === null ? 'NULL' : String(n))).join(',')}}`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/** An array literal of strings, escaping only the elements that need it (ids and keys rarely do). */
function textArray(values: Array<string | null>): string {
  const elements: string[] = [];
  for (const value of values) {
    if (value === null) elements.push('NULL');
    else elements.push(`"${NEEDS_ESCAPE.test(value) ? value.replace(ESCAPED, '\\$&') : value}"`);
  }
  return `{${elements.join(',')}}`;
}

/**
 * Distinct values and, per row, the position of its value among them. A batch mostly
 * repeats one topic and one set of headers, which then travel and are parsed once. The
 * distinct values go as one jsonb array, whose elements the server reaches by position in
 * constant time (a text[] element is found by walking the ones before it).
 */
class Dictionary {
  private readonly positions = new Map<string, number>();
  readonly rows: number[] = [];

  /** `json` is the value as JSON text. */
  add(json: string): void {
    let position = this.positions.get(json);
    if (position === undefined) this.positions.set(json, (position = this.positions.size));
    this.rows.push(position);
  }

  values(): string {
    return `[${[...this.positions.keys()].join(',')}]`;
  }
}

/**
 * The fast path: lock, notify and a plain multi-row INSERT in one statement, answering one
 * row with the seqs in batch order as one comma-separated text. Plain SQL rather than a
 * call of `publish(...)`, whose exception block (a subtransaction) and row-per-message
 * result cost about a tenth of the batch. Topics and headers are dictionary-encoded; the
 * bodies travel as one binary parameter cut at their offsets, not as a bytea[] that `pg`
 * would hex-encode and the server decode. The INSERT reads from `locked`, so no row takes
 * a seq before the publish lock is held. The ids publishers chose go into `dedupe` with
 * their window: one still there (even past its window, until retention prunes it) or
 * repeated in the batch fails the statement with unique_violation; the batch then goes to
 * `publishStatement`, which de-duplicates. An id the bus made up cannot be there, and no
 * publisher can send it again before it is stored, so only the batch's first such id goes
 * in: the marker by which a retry after a lost reply finds out the batch committed
 * (`recoverStatement`). A row in `dedupe` costs as much as the message's own.
 */
export function publishFastStatement(schema: string, batch: WireMessage[], dedupeWindowMs: number): Statement {
  const kept = remembering(batch)?.kept;
  const ids: string[] = [];
  const keys: Array<string | null> = [];
  const topics = new Dictionary();
  const headers = new Dictionary();
  const bodies: Buffer[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  const times: number[] = [];
  const ttls: Array<number | null> = [];
  let offset = 0;
  for (const wire of batch) {
    ids.push(wire.id);
    keys.push(wire.key ?? null);
    topics.add(JSON.stringify(wire.topic));
    headers.add(headersJson(wire.headers));
    const body = bodyBuffer(wire);
    bodies.push(body);
    offsets.push(offset);
    lengths.push(body.length);
    offset += body.length;
    times.push(wire.time);
    ttls.push(wire.ttlMs === undefined ? null : Math.ceil(wire.ttlMs));
  }
  return {
    name: `omnibus-publish-fast-${schema}`,
    text: withSchema(
      `WITH locked AS (SELECT ${PUBLISH_LOCK}), notified AS (SELECT pg_notify({schema_literal} || '.messages', $12)),
       inserted AS (
         INSERT INTO {schema}.messages AS m (id, topic, key, headers, body, time, expires_at)
         SELECT u.id, $2::jsonb ->> u.topic, u.key, $5::jsonb -> u.headers, substring($7::bytea FROM u.body_at + 1 FOR u.body_length),
                timestamptz 'epoch' + u.time_ms * interval '1 millisecond',
                timestamptz 'epoch' + (u.time_ms + u.ttl_ms) * interval '1 millisecond'
         FROM locked, notified,
              unnest($1::text[], $3::integer[], $4::text[], $6::integer[], $8::integer[], $9::integer[], $10::bigint[], $11::bigint[])
                WITH ORDINALITY AS u(id, topic, key, headers, body_at, body_length, time_ms, ttl_ms, ord)
         ORDER BY u.ord
         RETURNING m.id, m.seq
       ), remembered AS (
         INSERT INTO {schema}.dedupe (id, seq, until) SELECT id, seq, now() + $13 * interval '1 millisecond' FROM inserted
         WHERE $14::text[] IS NULL OR id = ANY ($14::text[])
       )
       -- Rows were numbered in batch order, so the n-th smallest seq belongs to the n-th message.
       SELECT string_agg(seq::text, ',' ORDER BY seq) AS seqs FROM inserted`,
      schema,
    ),
    values: [
      textArray(ids),
      topics.values(),
      numberArray(topics.rows),
      textArray(keys),
      headers.values(),
      numberArray(headers.rows),
      Buffer.concat(bodies, offset),
      numberArray(offsets),
      numberArray(lengths),
      numberArray(times),
      numberArray(ttls),
      notifyPayload(batch.map((wire) => wire.topic)),
      dedupeWindowMs,
      kept === undefined ? null : textArray(kept),
    ],
  };
}

/**
 * Which ids of a batch the fast path keeps in `dedupe`: the chosen ones and the marker (the
 * first id the bus made up); `others` are the rest. Undefined when every id is chosen.
 */
function remembering(batch: WireMessage[]): { marker: string; after: number; kept: string[]; others: string[] } | undefined {
  const at = batch.findIndex((wire) => wire.newId);
  if (at < 0) return undefined;
  const kept: string[] = [];
  const others: string[] = [];
  for (let i = 0; i < batch.length; i++) (i === at || !batch[i].newId ? kept : others).push(batch[i].id);
  return { marker: batch[at].id, after: batch.length - at - 1, kept, others };
}

/**
 * After a lost reply to a fast-path publish: the seq of each message of the batch if it
 * committed, no rows if it did not. Its marker (the first id the bus made up) is in `dedupe`
 * only if it committed; the ids kept there answer from there, and the other made-up ids took
 * the seqs after the marker's: one statement under the publish lock numbers its rows in a run.
 * Null when the batch has no marker: every id is in `dedupe`, and the retry de-duplicates.
 */
export function recoverStatement(schema: string, batch: WireMessage[]): Statement | null {
  const ids = remembering(batch);
  if (ids === undefined) return null;
  const t = quoteIdent(schema);
  return {
    name: `omnibus-publish-recover-${schema}`,
    text: `WITH marker AS (SELECT seq FROM ${t}.dedupe WHERE id = $1)
      SELECT d.id, d.seq FROM ${t}.dedupe d WHERE d.id = ANY ($2::text[]) AND EXISTS (SELECT 1 FROM marker)
      UNION ALL
      SELECT m.id, m.seq FROM ${t}.messages m, marker WHERE m.seq > marker.seq AND m.seq <= marker.seq + $4 AND m.id = ANY ($3::text[])`,
    values: [ids.marker, textArray(ids.kept), textArray(ids.others), ids.after],
  };
}

/** One call of `publish(...)` for a whole batch, which de-duplicates ids: one stored within its window answers with that seq. */
export function publishStatement(schema: string, batch: WireMessage[], dedupeWindowMs: number): Statement {
  return {
    name: `omnibus-publish-${schema}`,
    text: `SELECT message_id, message_seq, duplicate FROM ${quoteIdent(schema)}.publish($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    values: [
      batch.map((wire) => wire.id),
      batch.map((wire) => wire.topic),
      batch.map((wire) => wire.key ?? null),
      batch.map((wire) => headersJson(wire.headers)),
      batch.map(bodyBuffer),
      numberArray(batch.map((wire) => wire.time)),
      numberArray(batch.map((wire) => (wire.ttlMs === undefined ? null : Math.ceil(wire.ttlMs)))),
      dedupeWindowMs,
      notifyPayload(batch.map((wire) => wire.topic)),
    ],
  };
}

export function claimStatement(schema: string, group: string, pattern: string, regex: string | null, limit: number, leaseMs: number): Statement {
  return {
    name: `omnibus-claim-${schema}`,
    text: `SELECT * FROM ${quoteIdent(schema)}.claim($1, $2, $3, $4, $5)`,
    values: [group, pattern, regex, limit, Math.round(leaseMs)],
  };
}

/**
 * Acks and rejects delete their lease, nacks and inProgress move its `until`; each only if
 * the lease is still at the settled attempt. One entry per lease: a final settle wins.
 */
export function settleStatement(schema: string, batch: Settle[]): Statement {
  const byLease = new Map<string, Settle>();
  for (const settle of batch) {
    const key = `${settle.group}\u0000${settle.pattern}\u0000${settle.seq}`;
    const earlier = byLease.get(key);
    if (earlier !== undefined && earlier.delayMs === undefined && earlier.attempt >= settle.attempt) continue;
    byLease.set(key, settle);
  }
  const kept = [...byLease.values()];
  const rows = kept.map((s) => ({ g: s.group, p: s.pattern, s: s.seq, a: s.attempt, d: s.delayMs ?? null }));
  // A lease made due at once (a nack without delay, a hand-back at close) wakes the members
  // of its group in every process, as a publish would.
  const due = kept.filter((s) => s.delayMs === 0).map((s) => s.topic);
  const t = quoteIdent(schema);
  return {
    name: `omnibus-settle-${schema}`,
    // Like claims, settles commit without waiting for the disk: one lost in a server crash means a redelivery.
    text: `WITH async AS (SELECT set_config('synchronous_commit', 'off', true)), notified AS (
             SELECT pg_notify('${schema}.messages', $2) WHERE $2::text IS NOT NULL
           ), input AS (
             SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(g text, p text, s bigint, a integer, d double precision)
           ), removed AS (
             DELETE FROM ${t}.leases l USING input i
             WHERE i.d IS NULL AND l.group_name = i.g AND l.pattern = i.p AND l.seq = i.s AND l.attempts = i.a
             RETURNING 1
           ), moved AS (
             UPDATE ${t}.leases l SET until = clock_timestamp() + i.d * interval '1 millisecond'
             FROM input i
             WHERE i.d IS NOT NULL AND l.group_name = i.g AND l.pattern = i.p AND l.seq = i.s AND l.attempts = i.a
             RETURNING 1
           )
           SELECT (SELECT count(*) FROM removed) AS removed, (SELECT count(*) FROM moved) AS moved,
                  (SELECT count(*) FROM notified) AS notified FROM async`,
    values: [JSON.stringify(rows), due.length === 0 ? null : notifyPayload(due)],
  };
}

/** The first seq with `time >= $n`, by time: where a `{ time }` position starts; NULL if there is none. */
function firstAtTime(t: string, parameter: string): string {
  return `(SELECT seq FROM ${t}.messages WHERE time >= timestamptz 'epoch' + ${parameter} * interval '1 millisecond' ORDER BY time, seq LIMIT 1)`;
}

/**
 * A group's lag: unexpired messages past its position matching `regex` (null: every topic),
 * plus its leases (handed out, not acked). A group not stored has none: 0.
 */
export function lagStatement(schema: string, group: string, pattern: string, regex: string | null): Statement {
  const t = quoteIdent(schema);
  return {
    name: `omnibus-lag-${schema}`,
    text: `SELECT (SELECT count(*) FROM ${t}.groups g JOIN ${t}.messages m ON m.seq > g.position
                   WHERE g.name = $1 AND g.pattern = $2 AND ($3::text IS NULL OR m.topic ~ $3)
                     AND (m.expires_at IS NULL OR m.expires_at > now()))
                + (SELECT count(*) FROM ${t}.leases l WHERE l.group_name = $1 AND l.pattern = $2) AS lag`,
    values: [group, pattern, regex],
  };
}

/** Creates a group at its `from` position, or leaves an existing one where it is. */
export function createGroupStatement(schema: string, group: string, pattern: string, from: Position, ephemeral: boolean): Statement {
  const t = quoteIdent(schema);
  const latest = `(SELECT coalesce(max(seq), 0) FROM ${t}.messages)`;
  let position: string;
  const values: unknown[] = [group, pattern, ephemeral];
  if ('latest' in from) position = latest;
  else if ('earliest' in from) position = '0';
  else if ('seq' in from) {
    values.push(from.seq);
    position = `greatest($4::bigint - 1, 0)`;
  } else {
    values.push(from.timeMs);
    position = `coalesce(${firstAtTime(t, '$4')} - 1, ${latest})`;
  }
  return {
    text: `INSERT INTO ${t}.groups (name, pattern, position, ephemeral) VALUES ($1, $2, ${position}, $3) ON CONFLICT (name, pattern) DO NOTHING`,
    values,
  };
}

/**
 * Where a history read starts and ends: the first stored seq it may return (NULL: none) and
 * the newest seq now, which bounds it. Publishing commits in seq order, so every seq up to
 * that one is already visible and the read is a snapshot however long it takes.
 */
export function readBoundsStatement(schema: string, from: Exclude<Position, { latest: true }>): Statement {
  const t = quoteIdent(schema);
  const last = `(SELECT max(seq) FROM ${t}.messages)::text AS last`;
  if ('timeMs' in from) return { text: `SELECT ${firstAtTime(t, '$1')}::text AS first, ${last}`, values: [from.timeMs] };
  return { text: `SELECT (SELECT min(seq) FROM ${t}.messages WHERE seq >= $1)::text AS first, ${last}`, values: ['seq' in from ? from.seq : '0'] };
}

/** Up to `limit` retained, unexpired messages with `first <= seq <= last` matching `regex` (null: every topic), oldest first. */
export function readStatement(schema: string, regex: string | null, first: string, last: string, limit: number): Statement {
  return {
    name: `omnibus-read-${schema}`,
    text: `SELECT m.seq, m.id, m.topic, m.key, m.headers, m.body, ${MS('m.time')} AS time_ms, ${MS('m.expires_at')} AS expires_ms
           FROM ${quoteIdent(schema)}.messages m
           WHERE m.seq >= $1 AND m.seq <= $2 AND ($3::text IS NULL OR m.topic ~ $3) AND (m.expires_at IS NULL OR m.expires_at > now())
           ORDER BY m.seq LIMIT $4`,
    values: [first, last, regex, limit],
  };
}

/**
 * The safety poll's one statement for every subscription of a process: the newest seq, the
 * distinct topics stored after `after` (at most the newest `window` rows; NULL `after`: none),
 * and which of the given groups have a lease due, as 1-based positions in `groups`/`patterns`.
 */
export function pollStatement(schema: string, after: string | undefined, window: number, groups: string[], patterns: string[]): Statement {
  const t = quoteIdent(schema);
  return {
    name: `omnibus-poll-${schema}`,
    text: `WITH newest AS (SELECT coalesce(max(seq), 0) AS seq FROM ${t}.messages)
           SELECT (SELECT seq FROM newest)::text AS newest,
                  (SELECT array_agg(DISTINCT m.topic) FROM ${t}.messages m, newest n
                   WHERE m.seq > coalesce($1::bigint, n.seq) AND m.seq > n.seq - $2) AS topics,
                  (SELECT array_agg(i.n::integer) FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS i(g, p, n)
                   WHERE EXISTS (SELECT 1 FROM ${t}.leases l
                                 WHERE l.group_name = i.g AND l.pattern = i.p AND l.until <= clock_timestamp())) AS due`,
    values: [after ?? null, window, textArray(groups), textArray(patterns)],
  };
}

export function dropGroupStatement(schema: string, group: string, pattern: string): Statement {
  const t = quoteIdent(schema);
  return {
    text: `WITH gone AS (DELETE FROM ${t}.leases WHERE group_name = $1 AND pattern = $2)
           DELETE FROM ${t}.groups WHERE name = $1 AND pattern = $2`,
    values: [group, pattern],
  };
}

/** Up to `limit` ids whose dedupe window has passed, oldest first (the index on `until` finds them). */
export function forgetIdsStatement(schema: string, limit: number): Statement {
  const t = quoteIdent(schema);
  return {
    name: `omnibus-forget-ids-${schema}`,
    text: `DELETE FROM ${t}.dedupe WHERE id IN (SELECT id FROM ${t}.dedupe WHERE until <= now() ORDER BY until LIMIT $1)`,
    values: [limit],
  };
}

/** What one retention run deletes, in order. */
export function retentionStatements(schema: string, limits: { maxAgeMs?: number; maxMessages?: number }): Statement[] {
  const t = quoteIdent(schema);
  const statements: Statement[] = [];
  if (limits.maxAgeMs !== undefined) {
    statements.push({ text: `DELETE FROM ${t}.messages WHERE time < now() - $1 * interval '1 millisecond'`, values: [limits.maxAgeMs] });
  }
  if (limits.maxMessages !== undefined) {
    statements.push({
      text: `DELETE FROM ${t}.messages WHERE seq <= (SELECT seq FROM ${t}.messages ORDER BY seq DESC OFFSET $1 LIMIT 1)`,
      values: [limits.maxMessages],
    });
  }
  statements.push(
    { text: `DELETE FROM ${t}.messages WHERE expires_at < now()`, values: [] },
    { text: `DELETE FROM ${t}.groups WHERE ephemeral AND heartbeat_at < now() - interval '${EPHEMERAL_EXPIRY}'`, values: [] },
    // Leases of removed messages and of groups that no longer exist.
    {
      text: `DELETE FROM ${t}.leases l WHERE NOT EXISTS (SELECT 1 FROM ${t}.messages m WHERE m.seq = l.seq)
               OR NOT EXISTS (SELECT 1 FROM ${t}.groups g WHERE g.name = l.group_name AND g.pattern = l.pattern)`,
      values: [],
    },
  );
  return statements;
}
