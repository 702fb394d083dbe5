// `omnibus/drivers/kafka`: Apache Kafka, with consumer groups (docs/kafka.md).

export { kafka, kafka as default, type KafkaOptions } from './driver.js';
export { KAFKA_HEADER } from './wire.js';
