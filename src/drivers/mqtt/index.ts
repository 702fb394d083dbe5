// `omnibus/drivers/mqtt`: MQTT 5 brokers (Mosquitto, EMQX, HiveMQ), at QoS 1 with shared-subscription groups.

export { mqtt, mqtt as default, type MqttOptions } from './driver.js';
export { MQTT_PROPERTY } from './wire.js';
