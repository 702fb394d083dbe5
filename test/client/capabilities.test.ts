// The client reads what the gateway's bus can do from the welcome frame, typed, as the bus
// declares it: nothing parsed field by field, nothing made up.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { gatewayDriver } from '../../src/client/driver.js';
import { createBus } from '../../src/create-bus.js';
import type { Capabilities } from '../../src/core/driver.js';
import { sqlite } from '../../src/drivers/sqlite/index.js';
import type { GatewayCapabilities } from '../../src/protocol/frames.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';

describe('client capabilities', () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-capabilities-'));
  let running: Running;
  before(async () => {
    // SQLite: its bus filters wildcards itself, which a client of the gateway need not.
    running = await startGateway({ bus: createBus({ driver: sqlite({ path: join(dir, 'bus.db') }) }), limits: { maxMessageBytes: 4_096 } });
  });
  after(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("are the gateway's bus's, with its drivers and the gateway's payload limit", async () => {
    const client = createClient({ url: running.url, WebSocket: NodeWebSocket });
    await client.ready();
    const capabilities: GatewayCapabilities | undefined = client.capabilities;
    assert.deepEqual(capabilities, { ...running.bus.capabilities, drivers: ['sqlite'], maxPayloadBytes: 4_096 });
    await client.close();
  });

  it("are, for gatewayDriver, the bus's with wildcards matched at the gateway (delays included)", async () => {
    const driver = gatewayDriver({ url: running.url, WebSocket: NodeWebSocket });
    await driver.ready();
    const capabilities: Capabilities = driver.capabilities;
    assert.deepEqual(capabilities, { ...running.bus.capabilities, nativeWildcards: true, maxPayloadBytes: 4_096 });
    await driver.close();
  });
});
