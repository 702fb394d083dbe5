// `omnibus/driver-kit`: what every driver needs beside the contract in `omnibus`, for our
// drivers and for yours (docs/writing-a-driver.md).

export { Coalescer } from './coalescer.js';
export { ConnectOnce } from './connect-once.js';
export { declareDriver, type DriverDeclaration } from './declaration.js';
export { GroupTable } from './group-table.js';
export { Observers } from './observers.js';
export { loadPeer } from './peer.js';
export { Pump } from './pump.js';
export { afterThisTurn, TurnBatches, TurnBuffer } from './turn.js';
