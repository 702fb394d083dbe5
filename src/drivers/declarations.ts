// Every driver's declaration, made by `npm run docs` from the folders of src/drivers: do not edit.

import type { DriverDeclaration } from '../driver-kit/declaration.js';
import memory from './memory/entry.js';
import amqp from './amqp/entry.js';
import kafka from './kafka/entry.js';
import kinesis from './kinesis/entry.js';
import mqtt from './mqtt/entry.js';
import nats from './nats/entry.js';
import postgres from './postgres/entry.js';
import redis from './redis/entry.js';
import sqlite from './sqlite/entry.js';

export const declarations: DriverDeclaration[] = [memory, amqp, kafka, kinesis, mqtt, nats, postgres, redis, sqlite];
