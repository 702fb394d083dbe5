export { createOutbox, outbox, type EnqueueOptions, type Outbox, type OutboxOptions, type Queryable } from './enqueue.js';
export { relayOutbox, type OutboxRelay, type RelayOptions } from './relay.js';
export { inbox, type InboxOptions, type TransactionalHandler } from './inbox.js';
