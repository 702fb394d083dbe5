// GET /v1/messages over real sockets: a page is a snapshot bounded by count, bytes and time,
// streamed as it is read, released when the request closes; bad query values are 400s.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Bus } from '../../src/core/bus.js';
import type { Driver, ReadSpec, WireMessage } from '../../src/core/driver.js';
import { memory } from '../../src/drivers/memory/index.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import type { GatewayLimits } from '../../src/gateway/options.js';
import { eventually } from '../../src/testing/wait.js';
import { startGateway, type Running } from '../support/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

interface Page {
  messages: Array<{ topic: string; data: any; seq: string }>;
  next?: string;
  more: boolean;
  error?: { code: string };
}

/** Counts the driver reads that are open, to see that a page releases its read. */
function counted(driver: Driver): { driver: Driver; open: () => number } {
  const read = driver.read!.bind(driver);
  let open = 0;
  driver.read = async function* (spec: ReadSpec): AsyncGenerator<WireMessage> {
    open++;
    try {
      yield* read(spec);
    } finally {
      open--;
    }
  };
  return { driver, open: () => open };
}

for (const [name, makeDriver] of [
  ['memory', () => memory({ history: { maxMessages: 100_000 } })],
  ['sqlite', () => sqlite({ path: join(dir, `history-${files++}.db`) })],
] as Array<[string, () => Driver]>) {
  describe(`gateway history on ${name}`, () => {
    const open = async (limits: GatewayLimits = {}) => {
      const { driver, open } = counted(makeDriver());
      const running = await startGateway({ bus: new Bus({ drivers: { [name]: driver } }), limits });
      return { running, open };
    };
    const page = async (running: Running, query: string): Promise<Page> => {
      const response = await fetch(`${running.http}/v1/messages?${query}`);
      assert.equal(response.status, 200, await response.clone().text());
      return (await response.json()) as Page;
    };

    it('ends a page at maxHistoryBytes with more: true, and paging on with next reads every message once', async () => {
      const { running } = await open({ maxHistoryBytes: 64 * 1024 });
      try {
        const payload = 'x'.repeat(10 * 1024);
        await running.bus.publishMany(Array.from({ length: 30 }, (_, n) => ({ topic: 'big.t', data: { n, payload } })));
        const seen: number[] = [];
        let query = 'topic=big.t&from=earliest&limit=1000';
        for (let pages = 0; ; pages++) {
          assert.ok(pages < 30, 'paging ends');
          const body = await page(running, query);
          const bytes = Buffer.byteLength(JSON.stringify(body.messages));
          assert.ok(bytes <= 64 * 1024 + 1024, `a page of ${bytes} bytes`);
          seen.push(...body.messages.map((m) => m.data.n));
          if (!body.more) break;
          assert.ok(body.messages.length > 0 && body.messages.length < 30);
          query = `topic=big.t&after=${body.next}&limit=1000`;
        }
        assert.deepEqual(seen, Array.from({ length: 30 }, (_, n) => n));
      } finally {
        await running.close();
      }
    });

    it('answers at once with what was stored when the request came in, while publishing goes on', async () => {
      const { running } = await open();
      let publishing = true;
      const published: string[] = [];
      const publisher = (async () => {
        while (publishing) {
          published.push((await running.bus.publish('busy.t', published.length)).seq!);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      try {
        await eventually(() => published.length >= 20, 'messages on the busy topic');
        const before = published.length;
        const body = await page(running, 'topic=busy.t&from=earliest&limit=10000');
        const after = published.length;
        assert.equal(body.more, false, 'the snapshot was read to its end');
        assert.ok(body.messages.length >= before && body.messages.length <= after, `${body.messages.length} messages, ${before}..${after} published around the request`);
        assert.deepEqual(body.messages.map((m) => m.seq), published.slice(0, body.messages.length));
      } finally {
        publishing = false;
        await publisher;
        await running.close();
      }
    });

    it('releases its read when the client goes away mid-page', async () => {
      const { running, open: reads } = await open({ maxHistoryBytes: 256 * 1024 * 1024 });
      try {
        const payload = 'y'.repeat(32 * 1024);
        for (let n = 0; n < 2_000; n += 500) {
          await running.bus.publishMany(Array.from({ length: 500 }, (_, i) => ({ topic: 'gone.t', data: { n: n + i, payload } })));
        }
        // Read the first bytes of a 64 MiB page, then hang up; the server is then blocked on a full socket.
        const during = await new Promise<number>((resolve, reject) => {
          const req = request(`${running.http}/v1/messages?topic=gone.t&from=earliest&limit=10000`, (res) => {
            res.once('data', () => {
              resolve(reads());
              req.destroy();
            });
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(during, 1, 'the page was being read');
        await eventually(() => reads() === 0, 'the read released');
      } finally {
        await running.close();
      }
    });

    it('ends a page at historyTimeoutMs with what it has and more: true', async () => {
      const { driver } = counted(makeDriver());
      const read = driver.read!.bind(driver);
      // A read that stalls after its first message, as a broker that stops answering would.
      driver.read = async function* (spec) {
        for await (const wire of read(spec)) {
          yield wire;
          await new Promise(() => {});
        }
      };
      const running = await startGateway({ bus: new Bus({ drivers: { [name]: driver } }), limits: { historyTimeoutMs: 300 } });
      try {
        await running.bus.publishMany([{ topic: 'slow.t', data: 1 }, { topic: 'slow.t', data: 2 }]);
        const body = await page(running, 'topic=slow.t&from=earliest');
        assert.deepEqual(body.messages.map((m) => m.data), [1]);
        assert.equal(body.more, true);
        assert.equal(body.next, body.messages[0].seq);
      } finally {
        await running.close();
      }
    });

    it('answers 400 naming the bad value for a position or limit that cannot be', async () => {
      const { running } = await open();
      try {
        await running.bus.publish('bad.t', 1);
        for (const [query, pattern] of [
          ['topic=bad.t&from=abc', /abc/],
          ['topic=bad.t&after=-1', /-1/],
          ['topic=bad.t&from=time:yesterday', /time:yesterday/],
          ['topic=bad.t&limit=lots', /limit=lots/],
          ['topic=bad.t&limit=0', /limit=0/],
        ] as const) {
          const response = await fetch(`${running.http}/v1/messages?${query}`);
          assert.equal(response.status, 400, query);
          const { error } = (await response.json()) as { error: { code: string; message: string } };
          assert.match(error.message, pattern, query);
        }
      } finally {
        await running.close();
      }
    });
  });
}

describe('gateway history past a message that cannot be decoded', () => {
  it('reads it as its bytes and goes on, so paging never sticks on it', async () => {
    const driver = sqlite({ path: join(dir, `history-${files++}.db`) });
    const running = await startGateway({ bus: new Bus({ drivers: { sqlite: driver } }) });
    try {
      await running.bus.publish('odd.t', 1);
      // A foreign producer's body, labelled JSON but not JSON.
      await driver.publish([{ id: 'foreign-1', topic: 'odd.t', headers: { 'content-type': 'application/json' }, time: Date.now(), body: new TextEncoder().encode('{bad') }]);
      await running.bus.publish('odd.t', 3);
      const first = (await (await fetch(`${running.http}/v1/messages?topic=odd.t&from=earliest&limit=2`)).json()) as Page & { messages: Array<Record<string, any>> };
      assert.equal(first.error, undefined);
      assert.equal(first.more, true);
      assert.deepEqual([first.messages[0].data, Buffer.from(first.messages[1].data_base64, 'base64').toString()], [1, '{bad']);
      const rest = (await (await fetch(`${running.http}/v1/messages?topic=odd.t&after=${first.next}`)).json()) as Page;
      assert.deepEqual(rest.messages.map((m) => m.data), [3]);
      assert.equal(rest.more, false);
    } finally {
      await running.close();
    }
  });
});

describe('gateway HTTP bodies', () => {
  it('answers a body over maxFrameBytes with 413 and the error body, not a reset', async () => {
    const running = await startGateway({ limits: { maxFrameBytes: 64 * 1024 } });
    try {
      const body = JSON.stringify({ topic: 'big.body', data: 'z'.repeat(1024 * 1024) });
      const response = await fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(response.status, 413);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'TOO_LARGE');
      assert.match(error.message, /exceeds maxFrameBytes \(65536 bytes\)/);
      const fine = await fetch(`${running.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'big.body', data: 1 }) });
      assert.equal(fine.status, 200, 'the gateway goes on serving');
    } finally {
      await running.close();
    }
  });
});
