// `omnibus/drivers/redis`: Redis Streams, with consumer groups.

export { redis, redis as default, type RedisOptions } from './driver.js';
