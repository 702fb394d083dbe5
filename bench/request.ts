// Request/reply round trips over NATS: `bus.request` to a `bus.respond` responder beside the
// raw client's `nc.request` to a plain subscriber that echoes, in the same run, one request at
// a time and with 50 in flight. 100-byte payloads; requester and responder each have their
// own connection on both sides. Needs nats-server on NATS_URL.

import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Bus } from '../src/core/bus.js';
import { nats } from '../src/drivers/nats/index.js';
import { interleaved, printTable, rate, windowed } from './measure.js';

const URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const SEQUENTIAL = 3_000;
const CONCURRENT = 20_000;
/** Requests in flight at once in the concurrent scenario, for both sides. */
const WINDOW = 50;
const RUNS = 3;
const payload = new Uint8Array(100).fill(120);
const root = `benchrequest${randomUUID().slice(0, 8)}`;

function newBus(): Bus {
  // JetStream mode, the default: requests still travel on core subjects, outside every stream.
  return new Bus({ drivers: { nats: nats({ servers: URL }) } });
}

export default async function bench(): Promise<void> {
  const requester = newBus();
  const responder = newBus();
  const [asker, answerer]: NatsConnection[] = await Promise.all([connect({ servers: URL }), connect({ servers: URL })]);
  try {
    await responder.respond(`${root}.omnibus`, ({ data }) => data, { concurrency: WINDOW });
    answerer.subscribe(`${root}.raw`, { callback: (_error, m) => void m.respond(m.data) });
    await answerer.flush();
    const omnibus = () => requester.request(`${root}.omnibus`, payload);
    const raw = () => asker.request(`${root}.raw`, payload, { timeout: 5_000 });
    const sequential = await interleaved(RUNS, {
      omnibus: () => rate(SEQUENTIAL, () => windowed(SEQUENTIAL, 1, omnibus)),
      raw: () => rate(SEQUENTIAL, () => windowed(SEQUENTIAL, 1, raw)),
    });
    const concurrent = await interleaved(RUNS, {
      omnibus: () => rate(CONCURRENT, () => windowed(CONCURRENT, WINDOW, omnibus)),
      raw: () => rate(CONCURRENT, () => windowed(CONCURRENT, WINDOW, raw)),
    });
    printTable([
      { scenario: 'request/reply, one at a time', omnibus: sequential.omnibus, baseline: sequential.raw, baselineName: 'raw nc.request', unit: 'req/s' },
      { scenario: `request/reply, ${WINDOW} in flight`, omnibus: concurrent.omnibus, baseline: concurrent.raw, baselineName: 'raw nc.request', unit: 'req/s' },
    ]);
  } finally {
    await Promise.all([requester.close(), responder.close(), asker.close(), answerer.close()]);
  }
}
