// PostgreSQL driver against raw `pg` doing the same work in the same run: batched INSERT,
// concurrent single publishes, one group consuming with SKIP LOCKED and acks, and
// publish-to-handler latency over LISTEN/NOTIFY. 100-byte payloads throughout.

import pg from 'pg';
import { Bus } from '../src/core/index.js';
import { postgres, withDefaultUser } from '../src/drivers/postgres/index.js';
import { interleaved, percentile, printTable, rate, type Row } from './measure.js';

const url = withDefaultUser(process.env.PG_URL ?? 'postgres://127.0.0.1:5432/test');
const PAYLOAD = 100;
const BATCH = 100;
const PUBLISH_COUNT = 10_000;
const CONSUME_COUNT = 20_000;
const LATENCY_COUNT = 1_000;

function payload(): Uint8Array {
  const bytes = new Uint8Array(PAYLOAD);
  new DataView(bytes.buffer).setFloat64(0, performance.now());
  return bytes;
}

const sentAt = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(0);

export default async function bench(): Promise<void> {
  const schema = `bench_${process.pid}`;
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const t = `"${schema}"`;
  const driver = postgres({ connectionString: url, schema, retention: {} });
  const bus = new Bus({ drivers: { postgres: driver } });
  const rows: Row[] = [];
  try {
    await driver.ready();
    // Raw pg gets the same columns, id uniqueness and sequence as the driver's log.
    await pool.query(`CREATE TABLE ${t}.raw (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE,
      topic text NOT NULL, key text, headers jsonb NOT NULL, body bytea NOT NULL, time timestamptz NOT NULL)`);
    let rawId = 0;
    const rawInsert = (client: pg.Pool | pg.PoolClient, count: number, notify = false, dedupe = false) => {
      const ids: string[] = [];
      const bodies: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        ids.push(`raw-${rawId++}`);
        bodies.push(Buffer.from(payload()));
      }
      return client.query(
        `${notify ? `WITH n AS (SELECT pg_notify('raw_bench', '')) ` : ''}INSERT INTO ${t}.raw (id, topic, headers, body, time)
         SELECT i, 'bench.raw', '{"content-type":"application/octet-stream"}', b, now() FROM unnest($1::text[], $2::bytea[]) AS u(i, b)
         ${notify ? ', n' : ''}${dedupe ? ' ON CONFLICT (id) DO NOTHING' : ''}`,
        [ids, bodies],
      );
    };
    const batch = (topic: string) => Array.from({ length: BATCH }, () => ({ topic, data: payload() }));

    // 1. Publish, batches of 100, beside raw pg with and without paying for de-duplication by id as the driver does.
    const batched = await interleaved(7, {
      omnibus: () => rate(PUBLISH_COUNT, async () => {
        for (let i = 0; i < PUBLISH_COUNT; i += BATCH) await bus.publishMany(batch('bench.publish'));
      }),
      raw: () => rate(PUBLISH_COUNT, async () => {
        for (let i = 0; i < PUBLISH_COUNT; i += BATCH) await rawInsert(pool, BATCH);
      }),
      rawDeduped: () => rate(PUBLISH_COUNT, async () => {
        for (let i = 0; i < PUBLISH_COUNT; i += BATCH) await rawInsert(pool, BATCH, false, true);
      }),
    });
    rows.push({ scenario: 'publish, batches of 100', omnibus: batched.omnibus, baseline: batched.raw, baselineName: 'pg INSERT', unit: 'msg/s' });
    rows.push({ scenario: 'publish, batches of 100 (raw de-dups too)', omnibus: batched.omnibus, baseline: batched.rawDeduped, baselineName: 'pg INSERT ON CONFLICT', unit: 'msg/s' });

    // 2. Publish one at a time, 100 in flight: the driver folds them into multi-row INSERTs.
    const inFlight = async (count: number, one: () => Promise<unknown>) => {
      let left = count;
      await Promise.all(Array.from({ length: 100 }, async () => {
        while (left-- > 0) await one();
      }));
    };
    const singles = await interleaved(5, {
      omnibus: () => rate(PUBLISH_COUNT, () => inFlight(PUBLISH_COUNT, () => bus.publish('bench.single', payload()))),
      raw: () => rate(PUBLISH_COUNT, () => inFlight(PUBLISH_COUNT, () => rawInsert(pool, 1))),
    });
    rows.push({ scenario: 'publish, single, 100 in flight', omnibus: singles.omnibus, baseline: singles.raw, baselineName: 'pg INSERT (pool 10)', unit: 'msg/s' });

    // 3. Consume and ack with one group member, each round over a backlog of its own.
    const consume = await interleaved(3, {
      omnibus: async (round) => {
        const topic = `bench.consume.r${round}`;
        let first: string | undefined;
        for (let i = 0; i < CONSUME_COUNT; i += BATCH) {
          const results = await bus.publishMany(batch(topic));
          first ??= results[0].seq;
        }
        let handled = 0;
        let done!: () => void;
        const finished = new Promise<void>((resolve) => (done = resolve));
        return rate(CONSUME_COUNT, async () => {
          const subscription = await bus.subscribe(topic, () => {
            if (++handled === CONSUME_COUNT) done();
          }, { group: `bench-${round}`, from: { seq: first! } });
          await finished;
          await subscription.close();
        });
      },
      raw: async () => {
        await pool.query(`TRUNCATE ${t}.raw`);
        for (let i = 0; i < CONSUME_COUNT; i += 1_000) await rawInsert(pool, 1_000);
        const client = await pool.connect();
        try {
          return await rate(CONSUME_COUNT, async () => {
            for (;;) {
              await client.query('BEGIN');
              const claimed = await client.query(`SELECT seq, id, topic, key, headers, body, time FROM ${t}.raw ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, [BATCH]);
              for (const row of claimed.rows) void row.body; // the handler
              await client.query(`DELETE FROM ${t}.raw WHERE seq = ANY ($1)`, [claimed.rows.map((row) => row.seq)]);
              await client.query('COMMIT');
              if (claimed.rows.length === 0) break;
            }
          });
        } finally {
          client.release();
        }
      },
    });
    rows.push({ scenario: 'consume + ack, one group member', omnibus: consume.omnibus, baseline: consume.raw, baselineName: 'pg SKIP LOCKED', unit: 'msg/s' });

    // 4. Publish-to-handler latency, one message at a time.
    const omnibusLatency: number[] = [];
    {
      let next!: () => void;
      const subscription = await bus.subscribe('bench.latency', (message) => {
        omnibusLatency.push(performance.now() - sentAt(message.data as Uint8Array));
        next();
      }, { group: 'latency' });
      for (let i = 0; i < LATENCY_COUNT; i++) {
        const arrived = new Promise<void>((resolve) => (next = resolve));
        await bus.publish('bench.latency', payload());
        await arrived;
      }
      await subscription.close();
    }
    const rawLatency: number[] = [];
    {
      await pool.query(`TRUNCATE ${t}.raw`);
      const listener = await pool.connect();
      const worker = await pool.connect();
      let next!: () => void;
      let again = false;
      /** The claiming loop while it runs: the worker is released only once it has stopped. */
      let claiming: Promise<void> | undefined;
      const drain = () => {
        if (claiming !== undefined) {
          again = true; // a notification while claiming: look once more before idling
          return;
        }
        claiming = (async () => {
          for (again = false; ; again = false) {
            await worker.query('BEGIN');
            const claimed = await worker.query(`SELECT seq, body FROM ${t}.raw ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, [BATCH]);
            for (const row of claimed.rows) rawLatency.push(performance.now() - sentAt(row.body));
            if (claimed.rows.length > 0) await worker.query(`DELETE FROM ${t}.raw WHERE seq = ANY ($1)`, [claimed.rows.map((row) => row.seq)]);
            await worker.query('COMMIT');
            if (claimed.rows.length > 0) next();
            else if (!again) break;
          }
        })().finally(() => (claiming = undefined));
      };
      listener.on('notification', drain);
      await listener.query('LISTEN raw_bench');
      for (let i = 0; i < LATENCY_COUNT; i++) {
        const arrived = new Promise<void>((resolve) => (next = resolve));
        await rawInsert(pool, 1, true);
        await arrived;
      }
      await listener.query('UNLISTEN *');
      await claiming;
      listener.release();
      worker.release();
    }
    omnibusLatency.sort((a, b) => a - b);
    rawLatency.sort((a, b) => a - b);
    for (const p of [50, 99]) {
      rows.push({
        scenario: `publish-to-handler latency p${p}`,
        omnibus: percentile(omnibusLatency, p),
        baseline: percentile(rawLatency, p),
        baselineName: 'pg NOTIFY + SKIP LOCKED',
        unit: 'ms',
      });
    }
    printTable(rows);
  } finally {
    await bus.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}
