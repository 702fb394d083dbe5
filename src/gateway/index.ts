export { createGateway, Gateway } from './gateway.js';
export { gatewayPlugin } from './fastify.js';
export type { GatewayOptions, GatewayLimits } from './options.js';
export type { ApiKey, AuthOptions, Grant } from './auth.js';
export type { PresenceEntry, PresenceEvent } from './presence.js';
export { CLOSE } from '../protocol/close-codes.js';
export { PROTOCOL_VERSION } from '../protocol/frames.js';
