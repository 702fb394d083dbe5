// GET /metrics over a real socket: Prometheus text with the bus's counters per driver and
// per subscription, consumer lag per group, the gateway's connections and streams, and the
// process's own metrics.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import type { Message } from '../../src/core/message.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import { eventually } from '../../src/testing/wait.js';
import { RawSocket, startGateway, type Running } from '../support/gateway.js';

/** `name{labels} value` lines of a Prometheus text body, as a map from `name{labels}` to value. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    found.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return found;
}

describe('gateway metrics', () => {
  let running: Running;
  before(async () => {
    // Presence events are published messages too; without them the counts are the test's alone.
    running = await startGateway({ presenceEvents: false });
  });
  after(() => running.close());

  const scrape = async () => {
    const response = await fetch(`${running.http}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return samples(await response.text());
  };

  it('counts published, delivered, acked and retried messages per driver and subscription', async () => {
    const socket = await RawSocket.open(running.url);
    await socket.request({ type: 'subscribe', subscription: 'w', pattern: 'metrics.*', group: 'workers' });
    await socket.request({ type: 'subscribe', subscription: 'all', pattern: 'metrics.>', ack: 'auto' });
    for (let n = 0; n < 3; n++) await socket.request({ type: 'publish', topic: 'metrics.t', data: n });
    await eventually(() => socket.frames.filter((f) => f.type === 'message').length === 6, 'six deliveries');
    const work = socket.frames.filter((f) => f.type === 'message' && f.subscription === 'w');
    await socket.request({ type: 'ack', deliveries: work.slice(0, 2).map((f) => f.delivery) });
    await socket.request({ type: 'nack', deliveries: [work[2].delivery], delayMs: 60_000 });
    const stream = await fetch(`${running.http}/v1/stream?pattern=metrics.sse`);

    const scraped = await scrape();
    assert.equal(scraped.get('omnibus_published_messages_total{driver="memory"}'), 3);
    assert.equal(scraped.get('omnibus_delivered_messages_total{pattern="metrics.*",group="workers"}'), 3);
    assert.equal(scraped.get('omnibus_acked_messages_total{pattern="metrics.*",group="workers"}'), 2);
    assert.equal(scraped.get('omnibus_retried_messages_total{pattern="metrics.*",group="workers"}'), 1);
    assert.equal(scraped.get('omnibus_acked_messages_total{pattern="metrics.>",group=""}'), 3);
    assert.equal(scraped.get('omnibus_gateway_connections'), 1);
    assert.equal(scraped.get('omnibus_gateway_streams'), 1);
    assert.ok((scraped.get('process_cpu_user_seconds_total') ?? 0) > 0, "the process's own metrics are there");

    await stream.body?.cancel();
    socket.close();
    await eventually(() => running.gateway.connections === 0, 'the socket to close');
    const after = await scrape();
    assert.equal(after.get('omnibus_gateway_connections'), 0);
    assert.equal(after.get('omnibus_published_messages_total{driver="memory"}'), 3, 'counters never go down');
  });
});

describe('gateway metrics: consumer lag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-metrics-lag-'));
  let running: Running;
  before(async () => {
    running = await startGateway({ bus: createBus({ driver: sqlite({ path: join(dir, 'lag.db') }) }) });
  });
  after(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows omnibus_consumer_lag{pattern,group}, fetched from the driver at scrape time', async () => {
    const received: Message[] = [];
    await running.bus.subscribe('lag.*', (message) => void received.push(message), { group: 'billing', ack: 'manual' });
    for (let n = 0; n < 5; n++) await running.bus.publish('lag.t', n);
    await eventually(() => received.length === 5, 'five deliveries');
    await received[0].ack();
    await received[1].ack();
    const response = await fetch(`${running.http}/metrics`);
    const text = await response.text();
    assert.match(text, /# TYPE omnibus_consumer_lag gauge/);
    assert.equal(samples(text).get('omnibus_consumer_lag{pattern="lag.*",group="billing"}'), 3, 'five stored, two acked');
  });
});
