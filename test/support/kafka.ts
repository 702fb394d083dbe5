// Shared by the Kafka tests: the brokers a test file uses (KAFKA_BROKERS, else a private
// broker of its own), the skip rule, and private brokers for tests that stop and restart one.
// Outside CI a broker that is unavailable skips the suite with a line saying how to get one;
// with CI=true it fails the run. How a broker is fetched, formatted and probed is in
// scripts/kafka-broker.ts.

import { after } from 'node:test';
import { formatKafkaDir, freePortOtherThan, JAVA, kafkaAnswers, missingKafkaTools, type KafkaLaunch } from '../../scripts/kafka-broker.js';
import { startPrivateServer, type PrivateServer } from './private-server.js';

export interface KafkaForTests {
  /** For `describe(..., { skip })`. */
  skip: string | false;
  /** host:port bootstrap addresses; empty when skipped. */
  brokers: string[];
}

function unavailable(reason: string, fix: string): KafkaForTests {
  const text = `${reason}; ${fix}`;
  if (process.env.CI === 'true') throw new Error(`CI requires ${text}`);
  console.log(`# skipping Kafka suite: ${text}`);
  return { skip: text, brokers: [] };
}

const PRIVATE_FIX = 'install a JDK 17+ and Maven 3 (the broker is fetched into .kafka/lib)';

/**
 * For a test file's top level. With KAFKA_BROKERS (comma-separated host:port) set, its brokers;
 * else a private broker that lives until this file's tests end.
 */
export async function kafkaForTests(): Promise<KafkaForTests> {
  const shared = process.env.KAFKA_BROKERS;
  if (shared) {
    const brokers = shared.split(',').map((address) => address.trim()).filter(Boolean);
    if (await kafkaAnswers(brokers)) return { skip: false, brokers };
    return unavailable(`Kafka is not reachable at KAFKA_BROKERS=${shared}`, 'start one with: npm run kafka:start, or unset KAFKA_BROKERS for a private broker per test file');
  }
  let kafka: PrivateKafka;
  try {
    kafka = await startPrivateKafka();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    // Its first lines: what failed, and the broker's first words about it.
    const reason = (error as Error).message.split('\n').filter(Boolean).slice(0, 2).join(' ');
    return unavailable(`a private Kafka broker could not start (${reason})`, `${PRIVATE_FIX}, or point KAFKA_BROKERS at a broker`);
  }
  after(() => kafka.dispose());
  return { skip: false, brokers: kafka.brokers };
}

/**
 * For files that start their own brokers with `startPrivateKafka`: a skip reason when java or
 * mvn is missing (outside CI), false when they are there; throws in CI.
 */
export function privateKafkaSkip(): string | false {
  const missing = missingKafkaTools();
  if (missing.length === 0) return false;
  return unavailable(`a private Kafka broker needs ${missing.join(' and ')}, not found on PATH`, PRIVATE_FIX).skip;
}

/** A Kafka broker (KRaft, broker and controller in one) that only this test uses. */
export interface PrivateKafka extends PrivateServer {
  readonly brokers: string[];
}

/**
 * A broker on free loopback ports with a data directory of its own, kept across `stop()` and
 * `start()` (a real restart). Call `dispose()` in a `finally`. The first call on a machine
 * fetches the jars, which can take a minute.
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  let launch: KafkaLaunch | undefined;
  const server = await startPrivateServer({
    name: 'kafka',
    command: JAVA,
    // prepare() ran before the first start, so launch is set.
    args: () => launch!.args,
    ready: (port) => kafkaAnswers([`127.0.0.1:${port}`]),
    // A JVM starting on a busy 2-core machine; it takes about 5 s when idle.
    readyWithinMs: 60_000,
    prepare: async (port, dir) => {
      launch = await formatKafkaDir({ port, controllerPort: await freePortOtherThan(port), dir });
    },
  });
  return Object.assign(server, { brokers: [`127.0.0.1:${server.port}`] });
}
