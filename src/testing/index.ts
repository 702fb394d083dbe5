export { runConformance, type ConformanceOptions, type DriverFactory } from './conformance.js';
export { createTestBus, type PublishedMessage, type TestBus } from './test-bus.js';
export { faulty, type Faults, type FaultyDriver } from './faulty-driver.js';
export { eventually, sleep } from './wait.js';
