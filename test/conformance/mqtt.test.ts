import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { mqtt } from '../../src/drivers/mqtt/index.js';
import { runConformance } from '../../src/testing/conformance.js';
import { MQTT_URL, mqttSkip, startPrivateMosquitto } from '../support/mqtt.js';
import { freePort } from '../support/private-server.js';

const skip = await mqttSkip();
if (skip === false) {
  // One member name for the run: the persistence cases reopen a group's sessions under it.
  // Short sessions, so what a run leaves on the shared broker goes away by itself.
  const clientId = `conformance-${randomUUID().slice(0, 8)}`;
  // A broker of its own that lets only user omnibus in, for the refusal case.
  const guarded = await startPrivateMosquitto({ password: 'secret' });
  after(() => guarded.dispose());
  runConformance('mqtt', () => mqtt({ url: MQTT_URL, clientId, sessionExpirySeconds: 60 }), {
    unreachable: async () => mqtt({ url: `mqtt://127.0.0.1:${await freePort()}`, clientId }),
    refused: () => mqtt({ url: `mqtt://omnibus:wrong@127.0.0.1:${guarded.port}`, clientId }),
  });
}
