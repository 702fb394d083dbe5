export { createGateway, Gateway } from './gateway.js';
export { gatewayPlugin } from './fastify.js';
export type { GatewayOptions, GatewayLimits } from './options.js';
export type { ApiKey, AuthOptions, Grant } from './auth.js';
export { CLOSE, PROTOCOL_VERSION } from './frames.js';
