// The nats driver (NATS JetStream or core NATS) as configuration and the package know it.

import { z } from 'zod';
import { declareDriver } from '../../driver-kit/declaration.js';
import { optionSchemas } from '../../driver-kit/option-schemas.js';

const { ms, count, bytes, object } = optionSchemas;

export default declareDriver({
  type: 'nats',
  schemes: ['nats:'],
  example: 'nats://127.0.0.1:4222',
  fromUrl: (url) => {
    // nats://[user:password@]host:port[,host2:port][?mode=core&streamPrefix=APP&subjectPrefix=app]
    const [address, query = ''] = url.split('?', 2);
    const params = new URLSearchParams(query);
    const options: Record<string, unknown> = {};
    const servers: string[] = [];
    const connectOptions: Record<string, string> = {};
    for (const server of address.slice('nats://'.length).split(',')) {
      const at = server.lastIndexOf('@');
      if (at >= 0) {
        const [user, pass] = server.slice(0, at).split(':', 2).map(decodeURIComponent);
        if (pass === undefined) connectOptions.token = user;
        else Object.assign(connectOptions, { user, pass });
      }
      servers.push(`nats://${server.slice(at + 1)}`);
    }
    options.servers = servers.length === 1 ? servers[0] : servers;
    if (Object.keys(connectOptions).length > 0) options.connectOptions = connectOptions;
    for (const name of ['mode', 'streamPrefix', 'subjectPrefix']) {
      const value = params.get(name);
      if (value !== null) options[name] = value;
    }
    return options;
  },
  options: z.strictObject({
    servers: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
    connectOptions: object.optional(),
    mode: z.enum(['jetstream', 'core']).optional(),
    subjectPrefix: z.string().optional(),
    streamPrefix: z.string().optional(),
    streamTokens: count.optional(),
    stream: object.optional(),
    dedupeWindowMs: ms.optional(),
    publishTimeoutMs: ms.optional(),
    connectTimeoutMs: ms.optional(),
    pullBatch: count.optional(),
    pullExpiresMs: ms.optional(),
    maxAckPending: z.number().int().optional(),
    ephemeralInactiveMs: ms.optional(),
    ackTimeoutMs: ms.optional(),
    maxPayloadBytes: bytes.optional(),
  }),
  peers: { '@nats-io/transport-node': '>=3.0.0', '@nats-io/jetstream': '>=3.0.0' },
  needs: 'the @nats-io/transport-node and @nats-io/jetstream packages and nats-server (`-js` for JetStream mode)',
  load: async () => (await import('./driver.js')).nats,
});
