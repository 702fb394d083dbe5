// `omnibus/drivers/postgres`: the PostgreSQL driver (log table, groups with leases,
// LISTEN/NOTIFY wake-ups). Its files live beside this one.

export { postgres, patternRegex, type PostgresDriver } from './driver.js';
export { defaultConnectionString, withDefaultUser, type PostgresOptions } from './options.js';
export { postgres as default } from './driver.js';
