// `omnibus/drivers/amqp`: RabbitMQ (AMQP 0-9-1), with a topic exchange and a queue per group.

export { amqp, amqp as default, type AmqpOptions } from './driver.js';
