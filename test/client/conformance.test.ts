// The delivery contract through a real gateway: a Bus whose driver is the gateway client
// (`gatewayDriver`) runs the conformance suite over loopback WebSockets.
import { after } from 'node:test';
import { gatewayDriver } from '../../src/client/driver.js';
import { runConformance } from '../../src/testing/conformance.js';
import { NodeWebSocket, startGateway, type Running } from '../support/gateway.js';

// Started on first use: the suite asks for a driver while it is being defined.
let running: Promise<Running> | undefined;
after(async () => (await running)?.close());

runConformance('gateway client over memory', async () => {
  running ??= startGateway();
  const driver = gatewayDriver({ url: (await running).url, WebSocket: NodeWebSocket });
  await driver.ready();
  return driver;
});
