// Which web pages may talk to the gateway: a browser names the page's origin on every
// WebSocket upgrade and cross-origin request, so a page a developer happens to visit cannot
// reach a gateway on localhost unless its origin is allowed.

import type { IncomingMessage } from 'node:http';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether `host` (an address to bind) is reachable only from this machine. */
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

  constructor(allowed: string[] | undefined) {
    this.allowed = new Set(allowed ?? []);
    this.loopback = allowed === undefined;
  }

  admits(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.allowed.has('*') || this.allowed.has(origin)) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.host === req.headers.host) return true;
    return this.loopback && LOOPBACK_HOSTS.has(url.hostname === '::1' ? '[::1]' : url.hostname);
  }

  refusal(req: IncomingMessage): string {
    return `origin ${req.headers.origin} may not use this gateway; add it to the gateway's allowedOrigins`;
  }
}
