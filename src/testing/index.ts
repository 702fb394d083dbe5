export { runConformance, type ConformanceOptions, type DriverFactory, type TestRunner } from './conformance.js';
export { createTestBus, type TestBus } from './test-bus.js';
export type { PublishedMessage, WaitOptions } from './publish-log.js';
export type { ConsumedMessage, DrainOptions, Outcome } from './consumption.js';
export { faulty, type Faults, type FaultyDriver } from './faulty-driver.js';
export { eventually, sleep, WaitTimeoutError } from './wait.js';
