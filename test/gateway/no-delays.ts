// For the delay tests of the gateway, the client and the CLI: a gateway whose bus cannot delay
// (NATS in core mode, which makes no streams), and a suite that skips where NATS is missing.
import { after, before, describe, it } from 'node:test';
import { createBus } from '../../src/create-bus.js';
import { nats } from '../../src/drivers/nats/index.js';
import { NATS_URL, natsSkip } from '../support/nats.js';
import { startGateway, type Running } from '../support/gateway.js';

/** One test, `name`, against a gateway over a driver without `delayedDelivery`. */
export function onGatewayWithoutDelays(suite: string, name: string, test: (running: Running) => Promise<void>): void {
  describe(suite, async () => {
    const skip = await natsSkip();
    let running: Running | undefined;
    before(async () => {
      if (!skip) running = await startGateway({ bus: createBus({ driver: nats({ servers: NATS_URL, mode: 'core' }) }) });
    });
    after(() => running?.close());
    it(name, { skip }, () => test(running!));
  });
}
