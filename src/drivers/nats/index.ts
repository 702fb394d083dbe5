// `omnibus/drivers/nats`: NATS, with JetStream (durable) or core subjects (at most once).

export { nats, nats as default, type NatsOptions } from './driver.js';
export { NATS_HEADER } from './wire.js';
