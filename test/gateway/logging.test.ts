// The gateway logs through the logger it is given, a user's own pino as it is; without one it is silent.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { eventually } from '../../src/testing/wait.js';
import { RawSocket, startGateway } from '../support/gateway.js';

it("logs refusals and shutdown steps as JSON lines through the user's pino", async () => {
  const lines: Array<Record<string, any>> = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const running = await startGateway({ auth: { apiKeys: [{ key: 'news-key', name: 'newsroom', subscribe: ['news.>'] }] }, logger: pino(sink) });
  try {
    const ws = new WebSocket(running.url, { headers: { authorization: 'Bearer wrong' } });
    ws.on('error', () => {});
    await new Promise((resolve) => ws.on('unexpected-response', resolve));
    const socket = await RawSocket.open(running.url, { authorization: 'Bearer news-key' });
    assert.equal((await socket.request({ type: 'subscribe', subscription: 's', pattern: 'sport.>' })).code, 'FORBIDDEN');
    socket.close();
    await eventually(() => lines.filter((line) => line.msg === 'refused').length === 2, 'two refusal lines');
    const [upgrade, subscribe] = lines.filter((line) => line.msg === 'refused');
    assert.deepEqual([upgrade.level, upgrade.code, upgrade.transport], [40, 'UNAUTHORIZED', 'upgrade']);
    assert.deepEqual([subscribe.level, subscribe.code, subscribe.name, subscribe.topic], [40, 'FORBIDDEN', 'newsroom', 'sport.>']);
  } finally {
    await running.close();
  }
  assert.ok(lines.some((line) => line.level === 30 && line.msg.startsWith('gateway closing')));
});
