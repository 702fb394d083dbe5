export { createClient, OmnibusClient } from './client.js';
export type { ClientHandler, ClientOptions, ClientPublishItem, ClientPublishOptions, ClientSubscribeOptions, ClientSubscription } from './client.js';
export type { Message } from '../core/message.js';
export type { GatewayCapabilities } from '../protocol/frames.js';
export type { ConnectionEvents, WebSocketConstructor, WebSocketLike } from './connection.js';
export { gatewayDriver, type GatewayDriver } from './driver.js';
export { BufferFullError, GatewayError } from './errors.js';
export { RemoteError, TimeoutError } from '../core/errors.js';
export type { RequestOptions } from '../core/request-protocol.js';
