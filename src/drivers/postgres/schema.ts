// The driver's tables and functions, as versioned migrations. docs/postgres.md explains
// each table; a later change appends a migration and never edits a shipped one.

import { DEFAULT_DEDUPE_WINDOW_MS } from '../../core/driver.js';
import { LOCK_NAMESPACE, type Migration } from './migrate.js';

/** Epoch milliseconds of a timestamptz, exact for millisecond values. */
export const MS = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

export const PUBLISH_LOCK = `pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext({schema_literal} || ':publish'))`;

/**
 * `move_due()` as migration 2 created it, or as migration 3 recreates it: taking the moving
 * process's dedupe window (`p_window_ms`) and passing it on to `publish()`.
 */
function moveDueFunction(withWindow: boolean): string {
  return `CREATE FUNCTION {schema}.move_due(p_now_ms bigint, p_limit integer${withWindow ? ', p_window_ms bigint' : ''})
RETURNS TABLE (moved integer, next_due_ms bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids text[]; v_topics text[]; v_keys text[]; v_headers text[]; v_bodies bytea[]; v_times bigint[]; v_ttls bigint[];
  v_notify text;
BEGIN
  PERFORM pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext({schema_literal} || ':delayed'));
  WITH due AS (
    DELETE FROM {schema}.delayed d WHERE d.ord IN (
      SELECT x.ord FROM {schema}.delayed x WHERE x.due_ms <= p_now_ms ORDER BY x.due_ms, x.ord LIMIT p_limit)
    RETURNING d.*
  )
  SELECT array_agg(due.id ORDER BY due.due_ms, due.ord), array_agg(due.topic ORDER BY due.due_ms, due.ord),
         array_agg(due.key ORDER BY due.due_ms, due.ord), array_agg(due.headers ORDER BY due.due_ms, due.ord),
         array_agg(due.body ORDER BY due.due_ms, due.ord), array_agg(due.due_ms ORDER BY due.due_ms, due.ord),
         array_agg(due.ttl_ms ORDER BY due.due_ms, due.ord), string_agg(DISTINCT due.topic, ',')
  INTO v_ids, v_topics, v_keys, v_headers, v_bodies, v_times, v_ttls, v_notify FROM due;
  IF v_ids IS NOT NULL THEN
    -- Past NOTIFY's size limit an empty payload means "any topic", as for publishes.
    PERFORM {schema}.publish(v_ids, v_topics, v_keys, v_headers, v_bodies, v_times, v_ttls,${withWindow ? ' p_window_ms,' : ''}
                             CASE WHEN length(v_notify) > 7000 THEN '' ELSE v_notify END);
  END IF;
  RETURN QUERY SELECT coalesce(cardinality(v_ids), 0), (SELECT min(x.due_ms) FROM {schema}.delayed x);
END
$fn$;
`;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'log, groups, leases',
    sql: `
CREATE TABLE {schema}.messages (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL,
  topic text NOT NULL,
  key text,
  headers jsonb NOT NULL DEFAULT '{}',
  body bytea NOT NULL,
  time timestamptz NOT NULL,
  expires_at timestamptz,
  CONSTRAINT messages_id_unique UNIQUE (id)
);
CREATE INDEX messages_time ON {schema}.messages (time);
CREATE INDEX messages_expires_at ON {schema}.messages (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE {schema}.groups (
  name text NOT NULL,
  pattern text NOT NULL,
  position bigint NOT NULL,
  ephemeral boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, pattern)
);

CREATE TABLE {schema}.leases (
  group_name text NOT NULL,
  pattern text NOT NULL,
  seq bigint NOT NULL,
  attempts integer NOT NULL,
  until timestamptz NOT NULL,
  -- No index on until and no foreign key: a group's leases are its in-flight messages, few
  -- enough to scan, and every index or check here would cost on each delivery and ack.
  PRIMARY KEY (group_name, pattern, seq)
);

-- Publishing takes one lock for the whole schema so sequence numbers become visible in
-- order: a reader that has seen seq n has seen every committed seq below n, and a group's
-- position can never skip a message that commits late.
CREATE FUNCTION {schema}.publish(p_ids text[], p_topics text[], p_keys text[], p_headers text[], p_bodies bytea[],
                                 p_times bigint[], p_ttls bigint[], p_notify text)
RETURNS TABLE (message_id text, message_seq bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_seqs bigint[];
BEGIN
  PERFORM ${PUBLISH_LOCK};
  PERFORM pg_notify({schema_literal} || '.messages', p_notify);
  -- Fast path: a plain INSERT. ON CONFLICT costs a speculative insertion per row, so it
  -- runs only when this batch does hold an id already stored (or one id twice).
  BEGIN
    WITH inserted AS (
      INSERT INTO {schema}.messages AS t (id, topic, key, headers, body, time, expires_at)
      SELECT u.id, u.topic, u.key, u.headers::jsonb, u.body, timestamptz 'epoch' + u.time_ms * interval '1 millisecond',
             timestamptz 'epoch' + (u.time_ms + u.ttl_ms) * interval '1 millisecond'
      FROM unnest(p_ids, p_topics, p_keys, p_headers, p_bodies, p_times, p_ttls)
        WITH ORDINALITY AS u(id, topic, key, headers, body, time_ms, ttl_ms, ord)
      ORDER BY u.ord
      RETURNING t.seq
    )
    SELECT array_agg(inserted.seq ORDER BY inserted.seq) INTO v_seqs FROM inserted;
  EXCEPTION WHEN unique_violation THEN
    v_seqs := NULL;
  END;
  IF v_seqs IS NOT NULL THEN
    -- Rows were numbered in batch order, so the n-th smallest seq belongs to the n-th message.
    RETURN QUERY SELECT u.id, v_seqs[u.ord::integer] FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord);
    RETURN;
  END IF;
  RETURN QUERY
  WITH input AS (
    SELECT * FROM unnest(p_ids, p_topics, p_keys, p_headers, p_bodies, p_times, p_ttls)
      WITH ORDINALITY AS u(id, topic, key, headers, body, time_ms, ttl_ms, ord)
  ), inserted AS (
    INSERT INTO {schema}.messages AS t (id, topic, key, headers, body, time, expires_at)
    SELECT u.id, u.topic, u.key, u.headers::jsonb, u.body, timestamptz 'epoch' + u.time_ms * interval '1 millisecond',
           timestamptz 'epoch' + (u.time_ms + u.ttl_ms) * interval '1 millisecond'
    FROM input u ORDER BY u.ord
    ON CONFLICT (id) DO NOTHING
    RETURNING t.id, t.seq
  )
  -- A duplicate id answers with the seq it was first stored under.
  SELECT u.id, coalesce(n.seq, (SELECT m.seq FROM {schema}.messages m WHERE m.id = u.id))
  FROM input u LEFT JOIN inserted n ON n.id = u.id
  ORDER BY u.ord;
END
$fn$;

-- Hands out up to p_limit messages to one member of a group: first leases that lapsed or
-- were nacked (SKIP LOCKED, so competing members take different ones), then messages past
-- the group's position. Every handed-out message gets a lease until p_lease_ms from now.
-- The last row has only next_due_ms: in how many milliseconds the group's next lease falls due.
CREATE FUNCTION {schema}.claim(p_group text, p_pattern text, p_regex text, p_limit integer, p_lease_ms integer)
RETURNS TABLE (seq bigint, id text, topic text, key text, headers jsonb, body bytea,
               time_ms float8, expires_ms float8, attempts integer, next_due_ms float8)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_now timestamptz := clock_timestamp();
  v_until timestamptz := clock_timestamp() + p_lease_ms * interval '1 millisecond';
  v_due bigint[];
  v_taken integer := 0;
  v_room integer;
  v_position bigint;
  v_max bigint;
  v_new bigint[];
  v_found bigint[];
  v_from bigint;
  v_to bigint;
  v_window bigint;
  v_next timestamptz;
BEGIN
  -- Leases and positions commit without waiting for the disk: a server crash can only lose
  -- the last moment of claims, which means redelivery, never a lost message.
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT array_agg(d.seq) INTO v_due FROM (
    SELECT l.seq FROM {schema}.leases l
    WHERE l.group_name = p_group AND l.pattern = p_pattern AND l.until <= v_now
    ORDER BY l.seq LIMIT p_limit FOR UPDATE SKIP LOCKED) d;
  IF v_due IS NOT NULL THEN
    -- Messages removed by retention or past their TTL are not redelivered.
    DELETE FROM {schema}.leases l
    WHERE l.group_name = p_group AND l.pattern = p_pattern AND l.seq = ANY (v_due)
      AND NOT EXISTS (SELECT 1 FROM {schema}.messages m
                      WHERE m.seq = l.seq AND (m.expires_at IS NULL OR m.expires_at > v_now));
    RETURN QUERY
      UPDATE {schema}.leases l SET attempts = l.attempts + 1, until = v_until
      FROM {schema}.messages m
      WHERE l.group_name = p_group AND l.pattern = p_pattern AND l.seq = ANY (v_due) AND m.seq = l.seq
      RETURNING m.seq, m.id, m.topic, m.key, m.headers, m.body, ${MS('m.time')}, ${MS('m.expires_at')}, l.attempts, NULL::float8;
    GET DIAGNOSTICS v_taken = ROW_COUNT;
  END IF;

  v_room := p_limit - v_taken;
  IF v_room > 0 THEN
    SELECT g.position INTO v_position FROM {schema}.groups g
    WHERE g.name = p_group AND g.pattern = p_pattern FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'omnibus group % on % does not exist', p_group, p_pattern USING ERRCODE = 'P0002';
    END IF;
    -- Read up to the newest seq seen now: publishing commits in seq order, so nothing below it can still appear.
    SELECT max(m.seq) INTO v_max FROM {schema}.messages m;
    IF v_max > v_position THEN
      -- Scan in growing windows of seq: one query over the whole range would have the
      -- planner, unable to guess how selective the pattern is, read and sort all of it.
      v_from := v_position;
      v_window := greatest(v_room * 4, 256);
      LOOP
        v_to := least(v_max, v_from + v_window);
        SELECT array_agg(x.seq ORDER BY x.seq) INTO v_found FROM (
          SELECT m.seq FROM {schema}.messages m
          WHERE m.seq > v_from AND m.seq <= v_to
            AND (p_regex IS NULL OR m.topic ~ p_regex)
            AND (m.expires_at IS NULL OR m.expires_at > v_now)
          ORDER BY m.seq LIMIT v_room - coalesce(cardinality(v_new), 0)) x;
        v_new := v_new || v_found;
        EXIT WHEN coalesce(cardinality(v_new), 0) >= v_room OR v_to >= v_max;
        v_from := v_to;
        v_window := least(v_window * 2, 100000);
      END LOOP;
      IF v_new IS NOT NULL THEN
        INSERT INTO {schema}.leases (group_name, pattern, seq, attempts, until)
        SELECT p_group, p_pattern, s, 1, v_until FROM unnest(v_new) AS s;
        RETURN QUERY
          SELECT m.seq, m.id, m.topic, m.key, m.headers, m.body, ${MS('m.time')}, ${MS('m.expires_at')}, 1, NULL::float8
          FROM {schema}.messages m WHERE m.seq = ANY (v_new) ORDER BY m.seq;
      END IF;
      UPDATE {schema}.groups g
      SET position = CASE WHEN coalesce(cardinality(v_new), 0) < v_room THEN v_max ELSE v_new[cardinality(v_new)] END
      WHERE g.name = p_group AND g.pattern = p_pattern;
    END IF;
  END IF;

  SELECT min(l.until) INTO v_next FROM {schema}.leases l
  WHERE l.group_name = p_group AND l.pattern = p_pattern AND l.until > v_now;
  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::bytea,
                      NULL::float8, NULL::float8, NULL::integer,
                      (extract(epoch FROM v_next - v_now) * 1000)::float8;
END
$fn$;
`,
  },
  {
    version: 2,
    name: 'delayed messages',
    sql: `
-- Messages published with a due time wait here and enter the log, through publish(), when due.
CREATE TABLE {schema}.delayed (
  ord bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL,
  topic text NOT NULL,
  key text,
  headers text NOT NULL,
  body bytea NOT NULL,
  due_ms bigint NOT NULL,
  ttl_ms bigint,
  CONSTRAINT delayed_id_unique UNIQUE (id)
);
CREATE INDEX delayed_due ON {schema}.delayed (due_ms, ord);

-- Moves up to p_limit messages due by p_now_ms into the log, in due order (equal due times in
-- publish order), and answers how many and the next due time held. One mover at a time per
-- schema, so two processes never interleave their batches out of order.
${moveDueFunction(false)}`,
  },
  {
    version: 3,
    name: 'dedupe window',
    sql: `
-- The ids stored within their dedupe window, with the seq each was stored under. An id may
-- be stored again once its window has passed, so messages.id stops being unique: this
-- table's primary key decides, under the publish lock.
CREATE TABLE {schema}.dedupe (
  id text PRIMARY KEY,
  seq bigint NOT NULL,
  until timestamptz NOT NULL
);
CREATE INDEX dedupe_until ON {schema}.dedupe (until);
-- Messages stored before this migration have only their publish time: it stands in for the
-- storing time, with the default window.
INSERT INTO {schema}.dedupe (id, seq, until)
  SELECT id, seq, time + interval '${DEFAULT_DEDUPE_WINDOW_MS} milliseconds' FROM {schema}.messages
  WHERE time > now() - interval '${DEFAULT_DEDUPE_WINDOW_MS} milliseconds';
ALTER TABLE {schema}.messages DROP CONSTRAINT messages_id_unique;

DROP FUNCTION {schema}.move_due(bigint, integer);
DROP FUNCTION {schema}.publish(text[], text[], text[], text[], bytea[], bigint[], bigint[], text);

-- Stores a batch but the ids stored within their window (and the repeats of an id within the
-- batch), which answer with the stored seq and duplicate = true; one set-based statement.
CREATE FUNCTION {schema}.publish(p_ids text[], p_topics text[], p_keys text[], p_headers text[], p_bodies bytea[],
                                 p_times bigint[], p_ttls bigint[], p_window_ms bigint, p_notify text)
RETURNS TABLE (message_id text, message_seq bigint, duplicate boolean)
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM ${PUBLISH_LOCK};
  PERFORM pg_notify({schema_literal} || '.messages', p_notify);
  -- A statement of its own after the lock, so it sees every publish committed before it.
  RETURN QUERY
  WITH input AS (
    SELECT * FROM unnest(p_ids, p_topics, p_keys, p_headers, p_bodies, p_times, p_ttls)
      WITH ORDINALITY AS u(id, topic, key, headers, body, time_ms, ttl_ms, ord)
  ), known AS (
    SELECT d.id, d.seq FROM {schema}.dedupe d WHERE d.id = ANY (p_ids) AND d.until > now()
  ), fresh AS (
    SELECT DISTINCT ON (u.id) u.* FROM input u
    WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.id = u.id)
    ORDER BY u.id, u.ord
  ), inserted AS (
    INSERT INTO {schema}.messages AS t (id, topic, key, headers, body, time, expires_at)
    SELECT f.id, f.topic, f.key, f.headers::jsonb, f.body, timestamptz 'epoch' + f.time_ms * interval '1 millisecond',
           timestamptz 'epoch' + (f.time_ms + f.ttl_ms) * interval '1 millisecond'
    FROM fresh f ORDER BY f.ord
    RETURNING t.id, t.seq
  ), remembered AS (
    -- A conflict here is an id whose window has passed and that retention has not pruned yet.
    INSERT INTO {schema}.dedupe AS d (id, seq, until)
    SELECT n.id, n.seq, now() + p_window_ms * interval '1 millisecond' FROM inserted n
    ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, until = excluded.until
  )
  SELECT u.id, coalesce(k.seq, n.seq), (k.id IS NOT NULL OR f.ord <> u.ord)
  FROM input u LEFT JOIN known k ON k.id = u.id LEFT JOIN fresh f ON f.id = u.id LEFT JOIN inserted n ON n.id = u.id
  ORDER BY u.ord;
END
$fn$;

-- As in migration 2, with the publishing process's dedupe window passed on to publish().
${moveDueFunction(true)}`,
  },
];
