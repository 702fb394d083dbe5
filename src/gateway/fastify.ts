// Mounting into Fastify: the gateway's routes go through Fastify's router (hijacked, so the
// gateway writes the raw response), and WebSocket upgrades through Fastify's own server.

import type { Gateway } from './gateway.js';

/** The part of a Fastify instance the plugin uses, so the gateway needs no Fastify import. */
interface FastifyLike {
  server: import('node:http').Server;
  removeAllContentTypeParsers(): void;
  addContentTypeParser(type: string, parser: (request: unknown, payload: unknown, done: (error: null, body?: unknown) => void) => void): void;
  route(options: { method: string | string[]; url: string; handler: (request: { raw: import('node:http').IncomingMessage }, reply: { hijack(): void; raw: import('node:http').ServerResponse }) => void }): unknown;
}

/** `await app.register(gatewayPlugin(gateway))`. */
export function gatewayPlugin(gateway: Gateway) {
  return async function omnibusGateway(app: FastifyLike): Promise<void> {
    const handler = (request: { raw: import('node:http').IncomingMessage }, reply: { hijack(): void; raw: import('node:http').ServerResponse }) => {
      reply.hijack();
      gateway.handleRequest(request.raw, reply.raw);
    };
    // The gateway reads request bodies itself (size limits, CloudEvents binary mode): Fastify
    // must leave the stream alone. This plugin's scope is encapsulated, so the app's parsers stay.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    for (const url of ['/v1/publish']) app.route({ method: 'POST', url, handler });
    for (const url of ['/v1/messages', '/v1/stream', '/v1/topics', '/healthz']) app.route({ method: 'GET', url, handler });
    gateway.attach(app.server);
  };
}
