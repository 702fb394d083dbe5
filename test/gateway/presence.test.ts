// Presence over real sockets: GET /v1/presence lists who holds a subscription on a pattern,
// and `_presence.<pattern>` carries presence.join / presence.leave events through the bus.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import { eventually } from '../../src/testing/wait.js';
import { RawSocket, startGateway, type Running } from '../support/gateway.js';

const keys = [
  { key: 'alice-key', name: 'alice', tenant: 'acme' },
  { key: 'bob-key', name: 'bob', tenant: 'acme' },
  { key: 'room-only-key', name: 'guest', tenant: 'acme', publish: [], subscribe: ['chat.room-1'] },
  { key: 'eve-key', name: 'eve', tenant: 'globex' },
  { key: 'admin-key', name: 'admin' },
];

const logged: Array<{ level: string; fields: Record<string, any>; message?: string }> = [];
const capture = (level: string) => (fields: object, message?: string) => logged.push({ level, fields: fields as Record<string, any>, message });
const logger: Logger = { error: capture('error'), warn: capture('warn'), info: capture('info'), debug: capture('debug') };

describe('gateway presence', () => {
  let running: Running;
  before(async () => {
    running = await startGateway({ auth: { apiKeys: keys }, logger });
  });
  after(() => running.close());

  const open = (key: string) => RawSocket.open(running.url, { authorization: `Bearer ${key}` });
  const presence = async (key: string, pattern: string) => {
    const response = await fetch(`${running.http}/v1/presence?pattern=${encodeURIComponent(pattern)}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: response.status, body: (await response.json()) as any };
  };
  const events = (socket: RawSocket, subscription: string) => socket.frames.filter((f) => f.type === 'message' && f.subscription === subscription).map((f) => f.data);

  it('lists two clients in a room by name; the other sees join and leave', async () => {
    const alice = await open('alice-key');
    const bob = await open('bob-key');
    try {
      assert.equal((await alice.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.chat.room-1', ack: 'auto' })).type, 'reply');
      assert.equal((await alice.request({ type: 'subscribe', subscription: 'room', pattern: 'chat.room-1', ack: 'auto' })).type, 'reply');
      assert.equal((await bob.request({ type: 'subscribe', subscription: 'room', pattern: 'chat.room-1', ack: 'auto' })).type, 'reply');

      const listed = await presence('alice-key', 'chat.room-1');
      assert.equal(listed.status, 200);
      assert.equal(listed.body.pattern, 'chat.room-1');
      const byName = Object.fromEntries(listed.body.clients.map((c: any) => [c.name, c]));
      assert.deepEqual(Object.keys(byName).sort(), ['alice', 'bob']);
      assert.deepEqual(byName.bob.patterns, ['chat.room-1']);
      assert.equal(byName.bob.transport, 'websocket');
      assert.equal(byName.bob.client, bob.frames[0].client, 'the id is the one bob got in its welcome');
      assert.ok(typeof byName.bob.since === 'number');

      assert.equal((await bob.request({ type: 'unsubscribe', subscription: 'room' })).type, 'reply');
      await eventually(() => events(alice, 'who').some((e) => e.type === 'presence.leave'), "bob's leave");
      const seen = events(alice, 'who').filter((e) => e.name === 'bob');
      assert.deepEqual(
        seen.map((e) => e.type),
        ['presence.join', 'presence.leave'],
      );
      for (const event of seen) {
        assert.equal(event.client, bob.frames[0].client);
        assert.equal(event.pattern, 'chat.room-1');
        assert.ok(typeof event.time === 'number');
      }
      const after = await presence('alice-key', 'chat.room-1');
      assert.deepEqual(
        after.body.clients.map((c: any) => c.name),
        ['alice'],
      );
    } finally {
      alice.close();
      bob.close();
    }
  });

  it('a disconnect is a leave', async () => {
    const watcher = await open('alice-key');
    const bob = await open('bob-key');
    try {
      await watcher.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.chat.room-2', ack: 'auto' });
      await bob.request({ type: 'subscribe', subscription: 'room', pattern: 'chat.room-2', ack: 'auto' });
      await eventually(() => events(watcher, 'who').some((e) => e.type === 'presence.join'), "bob's join");
      bob.close();
      await eventually(() => events(watcher, 'who').some((e) => e.type === 'presence.leave' && e.name === 'bob'), "bob's leave on disconnect");
      assert.deepEqual((await presence('alice-key', 'chat.room-2')).body.clients, []);
    } finally {
      watcher.close();
    }
  });

  it('a tenant never sees another tenant’s clients; the subscribe grants decide who may list', async () => {
    const bob = await open('bob-key');
    try {
      await bob.request({ type: 'subscribe', subscription: 'room', pattern: 'chat.room-3', ack: 'auto' });
      assert.equal((await presence('alice-key', 'chat.room-3')).body.clients.length, 1);
      assert.deepEqual((await presence('eve-key', 'chat.room-3')).body.clients, [], "globex's chat.room-3 is empty");
      assert.deepEqual((await presence('eve-key', 'acme.chat.room-3')).body.clients, [], 'a tenant cannot name outside itself');
      assert.deepEqual((await presence('eve-key', '>')).body.clients, []);

      const guest = await presence('room-only-key', 'chat.>');
      assert.equal(guest.status, 403);
      assert.equal(guest.body.error.code, 'FORBIDDEN');
      assert.equal((await presence('room-only-key', 'chat.room-1')).status, 200);
      assert.equal((await presence('alice-key', 'chat..x')).body.error.code, 'INVALID_TOPIC');
      const missing = await fetch(`${running.http}/v1/presence`, { headers: { authorization: 'Bearer alice-key' } });
      assert.equal(missing.status, 400);

      // A token without a tenant sees every tenant's clients, by their bus names.
      const admin = await presence('admin-key', 'acme.chat.>');
      assert.deepEqual(admin.body.clients.map((c: any) => [c.name, c.patterns]), [['bob', ['acme.chat.room-3']]]);
    } finally {
      bob.close();
    }
  });

  it('presence topics follow the grants, and no client may publish to them', async () => {
    const guest = await open('room-only-key');
    const alice = await open('alice-key');
    try {
      const watched = await guest.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.chat.room-1' });
      assert.equal(watched.code, 'FORBIDDEN');
      const forged = await alice.request({ type: 'publish', topic: '_presence.chat.room-1', data: { type: 'presence.join', name: 'mallory' } });
      assert.equal(forged.code, 'FORBIDDEN');
      assert.match(forged.message, /presence/);
      const http = await fetch(`${running.http}/v1/publish`, {
        method: 'POST',
        headers: { authorization: 'Bearer alice-key', 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'chat._presence', data: 1 }),
      });
      assert.equal(http.status, 403);
      assert.ok(
        logged.some((line) => line.level === 'warn' && line.message === 'refused' && line.fields.code === 'FORBIDDEN' && line.fields.name === 'guest'),
        'the forbidden subscribe is logged with who asked',
      );
    } finally {
      guest.close();
      alice.close();
    }
  });

  it('wildcard subscriptions: listed under the patterns covering them, announced on _any / _rest tokens', async () => {
    const watcher = await open('alice-key');
    const bob = await open('bob-key');
    try {
      await watcher.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.>', ack: 'auto' });
      await watcher.request({ type: 'subscribe', subscription: 'tail', pattern: '>', ack: 'auto' });
      await bob.request({ type: 'subscribe', subscription: 'rooms', pattern: 'chat.*', ack: 'auto' });
      await eventually(() => watcher.frames.some((f) => f.type === 'message' && f.topic === '_presence.chat._any'), 'the join on _presence.chat._any');
      const joined = watcher.frames.find((f) => f.type === 'message' && f.topic === '_presence.chat._any')!;
      assert.equal(joined.subscription, 'who', "presence events reach only patterns naming them, not '>'");
      assert.ok(!watcher.frames.some((f) => f.type === 'message' && f.subscription === 'tail'));
      assert.equal(joined.data.pattern, 'chat.*');
      assert.deepEqual((await presence('alice-key', 'chat.room-9')).body.clients, [], 'chat.room-9 does not cover chat.*');
      assert.deepEqual(
        (await presence('alice-key', 'chat.>')).body.clients.map((c: any) => c.patterns),
        [['chat.*']],
      );
      const everyone = (await presence('alice-key', '>')).body.clients.map((c: any) => [c.name, c.patterns]);
      assert.deepEqual(everyone.sort(), [['alice', ['>']], ['bob', ['chat.*']]], 'watching presence is no presence');
    } finally {
      watcher.close();
      bob.close();
    }
  });

  it('lists Server-Sent Events streams and announces their leave when they end', async () => {
    const watcher = await open('alice-key');
    const aborter = new AbortController();
    try {
      await watcher.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.chat.sse', ack: 'auto' });
      const stream = await fetch(`${running.http}/v1/stream?pattern=chat.sse`, { headers: { authorization: 'Bearer bob-key' }, signal: aborter.signal });
      const reader = stream.body!.getReader();
      let text = '';
      while (!text.includes('event: ready')) text += new TextDecoder().decode((await reader.read()).value);
      const ready = JSON.parse(/event: ready\ndata: (.*)\n/.exec(text)![1]);
      const listed = (await presence('alice-key', 'chat.sse')).body.clients;
      assert.deepEqual(
        listed.map((c: any) => [c.name, c.transport, c.client]),
        [['bob', 'sse', ready.client]],
      );
      aborter.abort();
      await eventually(() => events(watcher, 'who').some((e) => e.type === 'presence.leave' && e.client === ready.client), 'the stream leaving');
    } finally {
      aborter.abort();
      watcher.close();
    }
  });
});

describe('presence across gateways', () => {
  it('goes through the bus: a client of one gateway sees joins on another sharing the broker', async () => {
    const first = await startGateway();
    const second = await startGateway({ bus: first.bus });
    const watcher = await RawSocket.open(first.url);
    const player = await RawSocket.open(second.url);
    try {
      await watcher.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.game.lobby', ack: 'auto' });
      await player.request({ type: 'subscribe', subscription: 'lobby', pattern: 'game.lobby', ack: 'auto' });
      await watcher.waitFor((f) => f.type === 'message' && f.data.type === 'presence.join' && f.data.client === player.frames[0].client);
      // The listing is each gateway's own clients.
      const local = await fetch(`${second.http}/v1/presence?pattern=game.lobby`).then((r) => r.json());
      assert.deepEqual(
        local.clients.map((c: any) => c.name),
        ['anonymous'],
      );
    } finally {
      watcher.close();
      player.close();
      await second.gateway.close(1_000);
      await first.close();
    }
  });
});

it('presenceEvents: false lists clients but publishes no events', async () => {
  const running = await startGateway({ presenceEvents: false });
  const watcher = await RawSocket.open(running.url);
  try {
    await watcher.request({ type: 'subscribe', subscription: 'who', pattern: '_presence.>', ack: 'auto' });
    await watcher.request({ type: 'subscribe', subscription: 'room', pattern: 'chat.quiet', ack: 'auto' });
    const listed = await fetch(`${running.http}/v1/presence?pattern=chat.quiet`).then((r) => r.json());
    assert.equal(listed.clients.length, 1);
    assert.equal(running.bus.stats().published, 0, 'nothing went to the bus');
  } finally {
    watcher.close();
    await running.close();
  }
});
