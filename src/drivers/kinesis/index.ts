// `omnibus/drivers/kinesis`: Amazon Kinesis Data Streams, with groups checkpointed in SQLite or Postgres (docs/kinesis.md).

export { kinesis, kinesis as default, type KinesisOptions } from './driver.js';
export type { Checkpoint, CheckpointStore } from './checkpoints.js';
export { SqliteCheckpoints } from './sqlite-checkpoints.js';
export { PostgresCheckpoints } from './postgres-checkpoints.js';
