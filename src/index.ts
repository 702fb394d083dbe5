// `omnibus`: the bus, its messages, events and errors. Each name is chosen: what a driver
// author needs beyond this is in `omnibus/driver-kit`; the rest is internal.

export { Bus, type BusOptions, type PublishItem } from './core/bus.js';
export { createBus, type CreateBusOptions } from './create-bus.js';
export { createBusFromConfig, loadConfig, type ConfigSource, type OmnibusConfig } from './config/index.js';
export { memory, type MemoryOptions } from './drivers/memory/index.js';

export { defineEvent, type EventDefinition, type EventInfo, type Target } from './core/event.js';
export { defineCatalog, type AsyncApiOptions, type AsyncApiServer, type Catalog, type CatalogOptions } from './catalog/index.js';
export { HEADER, type Headers, type Message, type PublishOptions, type PublishResult, type StoredMessage } from './core/message.js';
export type { Handler, SubscribeOptions, Subscription } from './core/subscription.js';
export { DEFAULT_REQUEST_TIMEOUT_MS, REQUEST_HEADER, type RequestOptions } from './core/request-protocol.js';
export type { RespondOptions, Responder } from './core/request-reply.js';
export type { BackoffOptions } from './core/backoff.js';
export type { CircuitBreakerOptions } from './core/circuit-breaker.js';
export { MessageStream, type StreamOptions } from './core/stream.js';
export { Reader, type ReaderOptions } from './core/reader.js';
export { Writer, type WriteResult } from './core/writer.js';
export type { Route } from './core/router.js';
export type { Capabilities, Driver, From, RequestTransport } from './core/driver.js';

export type { BusEvents, CircuitClosed, CircuitOpen, DeliveryFailed } from './core/bus-events.js';
export type { BusHealth, DriverHealth } from './core/health.js';
export type { BusStats, CircuitState, CircuitStats, Counters, PatternStats } from './core/stats.js';
export type { GroupLag, LagOptions } from './core/lag.js';
export type { Logger } from './core/logger.js';
export type { Tracing } from './core/tracing.js';
export { jsonCodec, type Codec } from './core/codec.js';
export { fromCloudEvent, toCloudEvent, type CloudEvent } from './core/cloud-event.js';
export { matchesPattern } from './core/topic.js';
export { uuidv7 } from './core/uuid.js';

export {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  InvalidPositionError,
  InvalidTopicError,
  NoRespondersError,
  NoRouteError,
  OmnibusError,
  PayloadTooLargeError,
  PublishError,
  RefusedError,
  RejectedError,
  RemoteError,
  SerializationError,
  TimeoutError,
  ValidationError,
  type ValidationIssue,
} from './core/errors.js';
