// Shared by the PostgreSQL tests: the shared server's address and skip check, and a private
// server for the cases that stop or restart one (the shared server must never be stopped).

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chown, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withDefaultUser } from '../../src/drivers/postgres/index.js';
import { brokerSkip } from './broker.js';
import { freePort } from './private-server.js';

export const PG_URL = withDefaultUser(process.env.PG_URL ?? 'postgres://127.0.0.1:5432/test');

export const postgresSkip = () =>
  brokerSkip({ name: 'PostgreSQL', url: PG_URL, start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' });

/** Where initdb, pg_ctl and postgres are. */
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

const run = promisify(execFile);

/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user. */
function command(tool: string, args: string[]): [string, string[]] {
  const path = join(BIN, tool);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

export interface PrivatePostgres {
  /** A superuser address on the private server. */
  readonly url: string;
  /** 'fast' is an ordinary shutdown; 'immediate' is a crash (no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server at once and deletes its directory; safe to call more than once. */
  destroy(): Promise<void>;
}

/**
 * Resolves to a `skip` reason when this machine has no PostgreSQL binaries, outside CI; to
 * false when it has them; throws in CI when it lacks them.
 */
export function privatePostgresSkip(): string | false {
  if (existsSync(join(BIN, 'pg_ctl'))) return false;
  const reason = `no PostgreSQL binaries in ${BIN} (set PG_BIN to their directory)`;
  if (process.env.CI === 'true') throw new Error(`CI requires ${reason}`);
  console.log(`# skipping the private PostgreSQL cases: ${reason}`);
  return reason;
}

/**
 * Creates and starts a throw-away server on a free port, with its data and socket in a
 * directory under os.tmpdir(). It skips fsync (its data matters only to one test), so it
 * starts in about a second. Call `destroy()` in a `finally` or an `after` hook; the
 * process's exit stops it too, should the test runner end without either.
 */
export async function startPostgres(): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let destroyed = false;
  const pgCtl = (...args: string[]) => {
    const [file, argv] = command('pg_ctl', ['-D', data, ...args]);
    return run(file, argv);
  };
  const kill = () => {
    try {
      const [file, argv] = command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore' });
    } catch {
      // Not running.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const onExit = () => kill();
  process.once('exit', onExit);
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', onExit);
    await pgCtl('-m', 'immediate', '-w', 'stop').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout), Number(group));
    }
    const [file, argv] = command('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    await run(file, argv);
    let port = 0;
    let options = '';
    // Another process may take the free port before the server binds it: try another.
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
      try {
        await pgCtl('-l', log, '-w', '-t', '30', '-o', options, 'start');
        break;
      } catch (error) {
        if (attempt >= 2) throw new Error(`the private PostgreSQL in ${dir} did not start: ${(error as Error).message}`, { cause: error });
      }
    }
    const start = async () => void (await pgCtl('-l', log, '-w', '-t', '30', '-o', options, 'start'));
    const stop = async (mode: 'fast' | 'immediate' = 'fast') => void (await pgCtl('-m', mode, '-w', 'stop'));
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      start,
      stop,
      restart: async () => {
        await stop();
        await start();
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
