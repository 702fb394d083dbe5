export * from './core/index.js';
export { createBus, type CreateBusOptions } from './create-bus.js';
export { createBusFromConfig, type OmnibusConfig } from './config/index.js';
export { memory, type MemoryOptions } from './drivers/memory/index.js';
