// `omnibus/driver-kit`: the driver contract and what every driver needs to meet it, for our
// drivers and for yours (docs/writing-a-driver.md).

export {
  DEFAULT_DEDUPE_WINDOW_MS,
  defineDriver,
  type Capabilities,
  type Deliver,
  type Delivery,
  type Driver,
  type DriverEvent,
  type DriverSubscription,
  type From,
  type LagSpec,
  type ReadSpec,
  type RequestTransport,
  type SubscribeSpec,
  type WireMessage,
} from '../core/driver.js';
export { ClosedError, ConfigurationError, ConnectionError, InvalidPositionError, NoRespondersError, PublishError, RefusedError, TimeoutError } from '../core/errors.js';
export { backoffDelay, type BackoffOptions, type Jitter } from '../core/backoff.js';
export { LocalDeliveries, type LocalDeliveryHooks } from '../core/local-deliveries.js';
export { PatternIndex } from '../core/pattern-index.js';
export { isWildcard, matchesPattern } from '../core/topic.js';

export { Coalescer } from './coalescer.js';
export { failure, type FailureKind } from './failure.js';
export { ConnectOnce } from './connect-once.js';
export { declareDriver, type DriverDeclaration, type DriverSemantics } from './declaration.js';
export { GroupTable } from './group-table.js';
export { LinkState } from './link-state.js';
export { Observers } from './observers.js';
export { optionSchemas } from './option-schemas.js';
export { loadPeer } from './peer.js';
export { Pump } from './pump.js';
export { afterThisTurn, TurnBatches, TurnBuffer } from './turn.js';
