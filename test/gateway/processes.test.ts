// Real gateway processes (`omnibus serve` over one SQLite file): a gateway killed with SIGKILL
// mid-stream and restarted loses no acknowledged publish, and resumed subscribers see every
// message once, in order; two gateways over one file deliver across.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { eventually } from '../../src/testing/wait.js';
import { NodeWebSocket, spawnGateway, type ChildGateway } from '../support/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-gateway-processes-'));
const children: ChildGateway[] = [];
after(async () => {
  await Promise.all(children.map((child) => child.kill('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

async function start(db: string, port?: number): Promise<ChildGateway> {
  const child = await spawnGateway(['--db', db], {}, port);
  children.push(child);
  return child;
}

describe('gateway processes', () => {
  it('SIGKILL mid-stream and restart: no acknowledged publish lost, subscribers see no gaps and no duplicates', { timeout: 90_000 }, async () => {
    const db = join(dir, 'kill.db');
    const first = await start(db);
    const options = { url: first.url, WebSocket: NodeWebSocket, reconnect: { initialMs: 50, maxMs: 400 }, maxBufferedPublishes: 10_000 };
    const publisher = createClient(options);
    const subscriber = createClient(options);
    const grouped = createClient(options);
    const events: string[] = [];
    subscriber.on('connectionLost', () => events.push('lost'));
    subscriber.on('reconnected', () => events.push('reconnected'));
    subscriber.on('gap', () => events.push('gap'));
    const seen: number[] = [];
    const seenSeqs: string[] = [];
    await subscriber.subscribe('kill.orders', (message) => {
      seen.push(message.data as number);
      seenSeqs.push(message.seq!);
    });
    const groupSeen = new Set<number>();
    await grouped.subscribe('kill.orders', (message) => void groupSeen.add(message.data as number), { group: 'billing' });

    const total = 1_500;
    const acknowledged = new Set<number>();
    let killed = false;
    let restarted: ChildGateway | undefined;
    const publishing = (async () => {
      const window: Promise<void>[] = [];
      for (let n = 0; n < total; n++) {
        window.push(publisher.publish('kill.orders', n, { key: 'one-key' }).then(() => void acknowledged.add(n)));
        if (window.length >= 20) await window.shift();
        if (n === 500 && !killed) {
          killed = true;
          // Mid-stream: publishes in flight, deliveries on the wire.
          await first.kill('SIGKILL');
          restarted = await start(db, first.port);
        }
      }
      await Promise.all(window);
    })();
    await publishing;
    assert.equal(acknowledged.size, total, 'every publish was acknowledged after the restart');
    await eventually(() => seen.length >= total, `all ${total} messages at the fan-out subscriber (has ${seen.length})`, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, [...Array(total).keys()], 'every message once, in publish order');
    for (let i = 1; i < seenSeqs.length; i++) assert.ok(Number(seenSeqs[i]) > Number(seenSeqs[i - 1]), 'seqs strictly increase');
    assert.ok(events.includes('lost') && events.includes('reconnected'), `events: ${events.join(',')}`);
    assert.ok(!events.includes('gap'));
    await eventually(() => groupSeen.size === total, `all ${total} messages at the group member (has ${groupSeen.size})`, 30_000);
    await Promise.all([publisher.close(), subscriber.close(), grouped.close()]);
    assert.equal(await restarted!.kill('SIGTERM'), 0, 'SIGTERM stops the gateway cleanly');
  });

  it('two gateway processes over one SQLite file deliver across', { timeout: 30_000 }, async () => {
    const db = join(dir, 'shared.db');
    const [a, b] = await Promise.all([start(db), start(db)]);
    const onA = createClient({ url: a.url, WebSocket: NodeWebSocket });
    const onB = createClient({ url: b.url, WebSocket: NodeWebSocket });
    const gotOnB: unknown[] = [];
    const gotOnA: unknown[] = [];
    await onB.subscribe('shared.>', (m) => void gotOnB.push(m.data));
    await onA.subscribe('shared.>', (m) => void gotOnA.push(m.data));
    await onA.publish('shared.x', 'from a');
    await onB.publish('shared.y', 'from b');
    await eventually(() => gotOnB.length === 2 && gotOnA.length === 2, 'both messages on both gateways', 10_000);
    assert.deepEqual(gotOnB, ['from a', 'from b']);
    assert.deepEqual(gotOnA, ['from a', 'from b']);
    await Promise.all([onA.close(), onB.close()]);
  });
});
