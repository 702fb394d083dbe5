// Connections per client (a token's principal, or an address without a token), so one client
// cannot open unlimited sockets and streams and slow everyone else down.

import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, type Principal } from './auth.js';

/** Whose connection it is: the token's principal, or the peer address without one. */
export function clientOf(principal: Principal | undefined, req: IncomingMessage): string {
  return principal === undefined || principal.name === ANONYMOUS ? `address ${req.socket.remoteAddress}` : tokenClient(principal);
}

/** The client a token's principal counts as. */
export function tokenClient(principal: Principal): string {
  return `principal ${principal.client}`;
}

export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Counts a new connection of `client`; returns its release, or undefined when the client is at the limit. */
  claim(client: string): (() => void) | undefined {
    const count = this.open.get(client) ?? 0;
    if (count >= this.limit) return undefined;
    this.open.set(client, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(client) ?? 1) - 1;
      if (left === 0) this.open.delete(client);
      else this.open.set(client, left);
    };
  }

  refusal(): string {
    return `this client already has ${this.limit} connections open (limits.maxConnectionsPerClient); close one first`;
  }
}
