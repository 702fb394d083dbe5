// `omnibus/drivers/postgres`: the PostgreSQL driver (log table, groups with leases,
// LISTEN/NOTIFY wake-ups). Its files live beside this one.

export { postgres, patternRegex, type PostgresDriver } from './driver.js';
export { defaultConnectionString, withDefaultUser, type PostgresOptions } from './options.js';
export { postgres as default } from './driver.js';

// What the transactional outbox (omnibus/outbox) shares with the driver: versioned
// migrations under one advisory lock, LISTEN with reconnects, and a client checked out with
// an error listener already on it.
export { checkout } from './checkout.js';
export { Listener } from './listener.js';
export { LOCK_NAMESPACE, migrate, quoteIdent, type Migration } from './migrate.js';
