// Which web pages may talk to the gateway: a browser names the page's origin on every
// WebSocket upgrade and cross-origin request, so a page a developer happens to visit cannot
// reach a gateway on localhost unless its origin is allowed.

import type { IncomingMessage } from 'node:http';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether `host` (an address to bind, or a host name without its port) is this machine only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * `allowed`: origins such as `https://app.example.com`, or `'*'` for any. A request without
 * an `Origin` header (not from a browser page) is always let through; so is the gateway's own
 * origin and, by default, any loopback origin.
 */
export class OriginCheck {
  private readonly allowed: Set<string>;
  private readonly loopback: boolean;
  /**
   * Set while the gateway listens on loopback: a request must then name a loopback host. A
   * page on another name that resolves to 127.0.0.1 (DNS rebinding) is its own origin, so the
   * Origin check alone would let it through.
   */
  loopbackOnly = false;

  constructor(allowed: string[] | undefined) {
    this.allowed = new Set(allowed ?? []);
    this.loopback = allowed === undefined;
  }

  admits(req: IncomingMessage): boolean {
    if (this.loopbackOnly && !namesLoopback(req.headers.host)) return false;
    const origin = req.headers.origin;
    if (origin === undefined || this.allowed.has('*') || this.allowed.has(origin)) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.host === req.headers.host) return true;
    return this.loopback && isLoopback(url.hostname);
  }

  refusal(req: IncomingMessage): string {
    if (this.loopbackOnly && !namesLoopback(req.headers.host)) {
      return `host ${req.headers.host} is not this gateway's: it listens on loopback only, so it answers to localhost and 127.0.0.1`;
    }
    return `origin ${req.headers.origin} may not use this gateway; add it to the gateway's allowedOrigins`;
  }
}

/** Whether a Host header names this machine (or is absent: not a browser). */
function namesLoopback(host: string | undefined): boolean {
  return host === undefined || isLoopback(host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]);
}
