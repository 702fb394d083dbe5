// `omnibus/drivers/postgres`: the PostgreSQL driver (log table, groups with leases,
// LISTEN/NOTIFY wake-ups). Its files live in ./postgres/.

export { postgres, patternRegex, type PostgresDriver } from './postgres/driver.js';
export { defaultConnectionString, withDefaultUser, type PostgresOptions } from './postgres/options.js';
export { postgres as default } from './postgres/driver.js';
