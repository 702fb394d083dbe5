// Driver types a configuration can name, each loaded only when used so a config that
// says `memory` never loads a broker client.

import type { Driver } from '../core/driver.js';

export interface RegisteredDriver {
  load(): Promise<(options: any) => Driver>;
  /** Driver options from an `OMNIBUS_URL`-style address. */
  fromUrl(url: string): Record<string, unknown>;
  /** What running it takes, for the README's driver table. */
  needs: string;
  /** Options the README table builds it with (it must not connect until used). */
  defaults?: Record<string, unknown>;
}

export const driverRegistry: Record<string, RegisteredDriver> = {
  memory: {
    load: async () => (await import('../drivers/memory.js')).memory,
    fromUrl: () => ({}),
    needs: 'nothing (in-process, the default); replay when `history` is set, dedupe when `dedupeWindowMs` is',
  },
  sqlite: {
    load: async () => (await import('../drivers/sqlite.js')).sqlite,
    // sqlite:omnibus.db, sqlite:///var/lib/omnibus.db, sqlite:./data/bus.db?synchronous=normal
    fromUrl: (url) => {
      const [location, query = ''] = url.slice('sqlite:'.length).split('?', 2);
      const path = decodeURIComponent(location.startsWith('//') ? location.slice(2) : location);
      const synchronous = new URLSearchParams(query).get('synchronous') ?? undefined;
      return { path: path === '' ? 'omnibus.db' : path, ...(synchronous === undefined ? {} : { synchronous }) };
    },
    needs: 'the better-sqlite3 package; no server (one file, shared by processes on one machine)',
    defaults: { path: 'omnibus.db' },
  },
  redis: {
    load: async () => (await import('../drivers/redis.js')).redis,
    // redis://[user:password@]host:port[/db], rediss:// for TLS
    fromUrl: (url) => ({ url }),
    needs: 'the ioredis package and Redis >= 6.2 (`redis-server`); dedupe when `dedupeWindowMs` is set',
  },
  nats: {
    load: async () => (await import('../drivers/nats.js')).nats,
    // nats://[user:password@]host:port[,host2:port][?mode=core&streamPrefix=APP&subjectPrefix=app]
    fromUrl: (url) => {
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
    needs: 'the @nats-io/transport-node and @nats-io/jetstream packages and nats-server (`-js` for JetStream mode)',
  },
  postgres: {
    load: async () => (await import('../drivers/postgres.js')).postgres,
    // postgres://[user[:password]@]host[:port]/database[?schema=omnibus&sslmode=...]; postgresql:// alike
    fromUrl: (url) => {
      const parsed = new URL(url);
      const schema = parsed.searchParams.get('schema');
      parsed.searchParams.delete('schema');
      return { connectionString: parsed.toString(), ...(schema === null ? {} : { schema }) };
    },
    needs: 'the pg package and PostgreSQL >= 12 (tested on 15)',
  },
};

/** URL schemes and the driver type each names. */
export const urlSchemes: Record<string, string> = {
  'memory:': 'memory',
  'sqlite:': 'sqlite',
  'redis:': 'redis',
  'rediss:': 'redis',
  'nats:': 'nats',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
};
