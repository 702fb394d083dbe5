// `omnibus/drivers/memory`: the in-process driver, and the default.

export { memory, memory as default, type MemoryOptions } from './driver.js';
