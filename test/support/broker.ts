// Broker suites talk to real services. Outside CI a missing service skips its suite with a
// line saying how to start it; with CI=true a missing service fails the run.

import { createConnection } from 'node:net';

export interface BrokerCheck {
  name: string;
  url: string;
  /** The command that starts the service on this machine. */
  start: string;
}

function reachable(url: string, timeoutMs = 1_000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves to a `skip` reason for `describe(..., { skip })` when the broker is down outside
 * CI, to false when it is up; throws in CI when it is down.
 */
export async function brokerSkip(check: BrokerCheck): Promise<string | false> {
  if (await reachable(check.url)) return false;
  const reason = `${check.name} is not reachable at ${check.url}; start it with: ${check.start}`;
  if (process.env.CI === 'true') throw new Error(`CI requires ${reason}`);
  console.log(`# skipping ${check.name} suite: ${reason}`);
  return reason;
}
