// Shared by the MQTT tests: the broker address, the skip check, the Mosquitto command-line
// clients, and private mosquitto instances for tests that stop one or need one that refuses
// anonymous clients (the shared broker on 1883 is never stopped by a test).

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brokerSkip } from './broker.js';
import { startPrivateServer, type PrivateServer } from './private-server.js';

export const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

export const MQTT_START = 'mosquitto -d -c /etc/mosquitto/mosquitto.conf';

export const mqttSkip = () => brokerSkip({ name: 'Mosquitto', url: MQTT_URL.replace(/^mqtt:/, 'tcp:'), start: MQTT_START });

export const run = promisify(execFile);

/**
 * Ends the broker sessions of these client ids (a clean start, then a disconnect), so group
 * members a test left behind stop taking a share of their group's messages.
 */
export async function endSessions(clientIds: string[], url = MQTT_URL): Promise<void> {
  const { connectAsync } = await import('mqtt');
  for (const clientId of clientIds) {
    const client = await connectAsync(url, { protocolVersion: 5, clientId, clean: true, reconnectPeriod: 0 });
    await client.endAsync();
  }
}

/** A mosquitto only this test uses, on a free port, persisting to its own directory. */
export interface PrivateMosquitto extends PrivateServer {
  readonly url: string;
}

/**
 * `mosquitto -c <dir>/mosquitto.conf`, listening on loopback, with `persistence true` in its
 * directory so sessions survive a graceful restart. With `password`, only user `omnibus` with
 * that password may connect; `config` adds lines to its configuration. Call `dispose()` in a `finally`.
 */
export async function startPrivateMosquitto(options: { password?: string; config?: string[] } = {}): Promise<PrivateMosquitto> {
  const server = await startPrivateServer({
    name: 'mosquitto',
    command: 'mosquitto',
    args: (_port, dir) => ['-c', join(dir, 'mosquitto.conf')],
    prepare: async (port, dir) => {
      // Run as whoever started it: as root, mosquitto would switch to a user that cannot read the private directory.
      const lines = [`listener ${port} 127.0.0.1`, `user ${userInfo().username}`, 'persistence true', `persistence_location ${dir}/`, 'log_dest stderr'];
      if (options.password === undefined) lines.push('allow_anonymous true');
      else {
        const passwords = join(dir, 'passwords');
        await writeFile(passwords, '');
        await run('mosquitto_passwd', ['-b', passwords, 'omnibus', options.password]);
        lines.push('allow_anonymous false', `password_file ${passwords}`);
      }
      lines.push(...(options.config ?? []));
      await writeFile(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
    },
  });
  return Object.assign(server, { url: `mqtt://127.0.0.1:${server.port}` });
}
