// GET / and /dashboard/*: the dashboard's page, script and styles. `npm run build` bundles
// them into dist/dashboard (scripts/build-dashboard.ts), so the page needs no CDN. They are
// public: everything the page shows it fetches with the viewer's own token.

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

// Two levels up from src/gateway (under tsx) and from dist/gateway (built) alike.
const BUILT = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

// The page loads only its own script and styles and talks only to this gateway.
const POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export class Dashboard {
  private readonly cache = new Map<string, Promise<Buffer>>();

  constructor(private readonly directory = BUILT) {}

  /** Answers a dashboard request; returns false for other paths. */
  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const entry = FILES[pathname];
    if (entry === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    let body: Buffer;
    try {
      body = await this.read(entry.file);
    } catch {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`the dashboard is not built (no ${entry.file} in ${this.directory}): run npm run build\n`);
      return true;
    }
    res.writeHead(200, {
      'content-type': entry.type,
      'content-length': body.length,
      'cache-control': 'no-cache',
      'content-security-policy': POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  /** Read once per gateway; a failed read is tried again on the next request. */
  private read(file: string): Promise<Buffer> {
    let body = this.cache.get(file);
    if (body === undefined) {
      body = readFile(this.directory + file);
      this.cache.set(file, body);
      body.catch(() => this.cache.delete(file));
    }
    return body;
  }
}
