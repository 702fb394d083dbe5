// The one place that knows how to run a real Kafka broker without Docker: its jars come from
// Maven Central into .kafka/lib, a data directory is formatted for KRaft (one node that is
// both broker and controller), and it is ready once it answers a metadata request.
// `npm run kafka:start` / `npm run kafka:stop` run one detached broker for a whole test run;
// test/support/kafka.ts starts private ones through the same functions.

import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { freePort } from '../test/support/private-server.js';

export const KAFKA_VERSION = '4.4.0';
// Kafka's pom brings log4j-core but no slf4j binding for it, and without one the broker logs
// nothing at all. Same version as the log4j-core Kafka pulls in.
const LOG4J_VERSION = '2.25.5';

export const KAFKA_HOME = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.kafka');
const LIB = join(KAFKA_HOME, 'lib');
const RECORD = join(KAFKA_HOME, 'broker.json');
export const JAVA = 'java';

const run = promisify(execFile);

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>omnibus</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  </plugin></plugins></build>
</project>
`;

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether .kafka/lib holds the jars of the current pom: the pom is copied in last, as the mark of a finished fetch. */
function jarsComplete(): boolean {
  try {
    return readFileSync(join(LIB, 'pom.xml'), 'utf8') === POM;
  } catch {
    return false;
  }
}

/** The tools a broker still needs that are not installed: java always, mvn only while the jars are not fetched. */
export function missingKafkaTools(): string[] {
  const needed = jarsComplete() ? [JAVA] : [JAVA, 'mvn'];
  return needed.filter((tool) => !onPath(tool));
}

function requireTools(): void {
  const missing = missingKafkaTools();
  if (missing.length > 0) {
    throw new Error(`a Kafka broker needs ${missing.join(' and ')}, not found on PATH: install a JDK 17+ and Maven 3 (e.g. apt-get install openjdk-17-jdk-headless maven)`);
  }
}

/**
 * Fetches Kafka's jars into .kafka/lib unless they are there. They land in a temporary directory
 * renamed into place when complete, so an interrupted fetch never passes for a finished one.
 */
export async function ensureKafkaJars(): Promise<string> {
  if (jarsComplete()) return LIB;
  requireTools();
  mkdirSync(KAFKA_HOME, { recursive: true });
  writeFileSync(join(KAFKA_HOME, 'pom.xml'), POM);
  const partial = mkdtempSync(join(KAFKA_HOME, 'lib.partial-'));
  try {
    const args = ['-q', '-B', '-f', join(KAFKA_HOME, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${partial}`, '-DincludeScope=runtime'];
    await run('mvn', args, { maxBuffer: 16 * 1024 * 1024 }).catch((error) => {
      throw new Error(`mvn could not fetch Kafka ${KAFKA_VERSION} into ${LIB}:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
    });
    writeFileSync(join(partial, 'pom.xml'), POM);
    if (jarsComplete()) return LIB; // another process finished first
    rmSync(LIB, { recursive: true, force: true }); // jars of another version
    try {
      renameSync(partial, LIB);
    } catch (error) {
      if (!jarsComplete()) throw error; // else another process renamed its fetch in just before
    }
    return LIB;
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

export interface KafkaDir {
  /** The port clients connect to. */
  port: number;
  /** The KRaft controller's port, on loopback too. */
  controllerPort: number;
  dir: string;
}

export interface KafkaLaunch {
  command: string;
  args: string[];
  properties: Record<string, string>;
  /** The broker's log4j output. */
  log: string;
}

function brokerProperties({ port, controllerPort, dir }: KafkaDir): Record<string, string> {
  return {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': '1',
    // One node: every internal topic has one replica. One partition each, as a 50-partition
    // __consumer_offsets makes a test's first consumer group wait for its creation.
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    // Kafka's 3 s would make a new group's first delivery at least 3 s late, and the delayed-
    // delivery cases allow 2 s; members that subscribe within half a second still form the
    // group's first generation together, as they do on a production cluster.
    'group.initial.rebalance.delay.ms': '500',
  };
}

function log4jConfig(log: string): string {
  // Everything to the file; only errors to stderr, where a failed start shows them.
  return [
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${log}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.stderr.type = Console',
    'appender.stderr.name = stderr',
    'appender.stderr.target = SYSTEM_ERR',
    'appender.stderr.layout.type = PatternLayout',
    'appender.stderr.layout.pattern = %p %m%n',
    'appender.stderr.filter.level.type = ThresholdFilter',
    'appender.stderr.filter.level.level = error',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    'rootLogger.appenderRef.stderr.ref = stderr',
    '',
  ].join('\n');
}

/** A cluster id as Kafka's `random-uuid` makes one, without starting a JVM for it. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id; // Kafka avoids ids that read as a command-line flag
  }
}

/**
 * Writes the broker's configuration into `dir`, formats its KRaft storage in `dir/data`, and
 * returns how to start it. Fetches the jars first if needed.
 */
export async function formatKafkaDir(where: KafkaDir): Promise<KafkaLaunch> {
  const lib = await ensureKafkaJars();
  requireTools();
  mkdirSync(where.dir, { recursive: true });
  const properties = brokerProperties(where);
  const serverProperties = join(where.dir, 'server.properties');
  const log4j = join(where.dir, 'log4j2.properties');
  const log = join(where.dir, 'broker.log');
  writeFileSync(serverProperties, Object.entries(properties).map(([key, value]) => `${key}=${value}\n`).join(''));
  writeFileSync(log4j, log4jConfig(log));
  const classpath = ['-cp', `${lib}/*`];
  // Without the log4j config: errors go to stderr, into the message below, not the broker's log.
  await run(JAVA, [...classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', serverProperties]).catch((error) => {
    throw new Error(`formatting ${where.dir} for Kafka failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
  });
  return { command: JAVA, args: ['-Xmx1g', `-Dlog4j2.configurationFile=${log4j}`, ...classpath, 'kafka.Kafka', serverProperties], properties, log };
}

/** Whether the brokers answer a metadata request naming at least one broker. */
export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  const admin = new Admin({ clientId: 'omnibus-probe', bootstrapBrokers: brokers, retries: false, connectTimeout: 1_000, requestTimeout: 2_000 });
  try {
    const metadata = await admin.metadata({ topics: [] });
    return metadata.brokers.size > 0;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => {});
  }
}

/** A free loopback port for the controller, other than the broker's. */
export async function freePortOtherThan(port: number): Promise<number> {
  for (;;) {
    const other = await freePort();
    if (other !== port) return other;
  }
}

// The CLI: one detached broker recorded in .kafka/broker.json.

interface BrokerRecord {
  pid: number;
  port: number;
  dir: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

function readRecord(): BrokerRecord | undefined {
  try {
    return JSON.parse(readFileSync(RECORD, 'utf8')) as BrokerRecord;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is still the broker of `dir`: a recycled pid or an unreaped zombie is not. */
function running({ pid, dir }: BrokerRecord): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    if (existsSync('/proc/self')) return false;
    try {
      process.kill(pid, 0); // no /proc (macOS): trust the pid
      return true;
    } catch {
      return false;
    }
  }
}

/** SIGTERM (a clean shutdown), SIGKILL after 15 s, and waits until it is gone; then removes its directory. */
async function stopBroker(record: BrokerRecord): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(record.pid, name);
    } catch {
      // already gone
    }
  };
  if (running(record)) {
    signal('SIGTERM');
    const killAt = Date.now() + 15_000;
    while (running(record)) {
      if (Date.now() > killAt) signal('SIGKILL');
      await sleep(100);
    }
  }
  rmSync(record.dir, { recursive: true, force: true });
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

async function start(): Promise<void> {
  const recorded = readRecord();
  if (recorded !== undefined) {
    if (running(recorded) && (await kafkaAnswers([`127.0.0.1:${recorded.port}`]))) {
      say(`kafka: reusing the broker recorded in ${RECORD} (pid ${recorded.pid})`);
      console.log(`127.0.0.1:${recorded.port}`);
      return;
    }
    say(`kafka: the broker recorded in ${RECORD} does not answer; replacing it`);
    await stopBroker(recorded);
    rmSync(RECORD, { force: true });
  }

  if (!jarsComplete()) say(`kafka: fetching Kafka ${KAFKA_VERSION} into ${LIB}`);
  await ensureKafkaJars();
  const port = await freePort();
  const controllerPort = await freePortOtherThan(port);
  const dir = join(KAFKA_HOME, `broker-${port}`);
  say(`kafka: formatting ${dir}`);
  const launch = await formatKafkaDir({ port, controllerPort, dir }).catch((error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const consoleLog = join(dir, 'console.log');
  const output = openSync(consoleLog, 'a');
  const child = spawn(launch.command, launch.args, { detached: true, stdio: ['ignore', output, output] });
  child.unref();
  const record = { pid: child.pid!, port, dir };
  let exited = false;
  child.once('exit', () => (exited = true));

  say(`kafka: starting a broker on 127.0.0.1:${port} (pid ${record.pid})`);
  const deadline = Date.now() + 60_000;
  while (!(await kafkaAnswers([`127.0.0.1:${port}`]))) {
    if (exited || Date.now() > deadline) {
      const logs = `the end of ${launch.log}:\n${tail(launch.log)}\nand of ${consoleLog}:\n${tail(consoleLog)}`;
      await stopBroker(record);
      throw new Error(`the broker ${exited ? 'exited while starting' : 'was not ready within 60 s'}; ${logs}`);
    }
    await sleep(200);
  }
  writeFileSync(RECORD, `${JSON.stringify(record)}\n`);
  say(`kafka: ready; recorded in ${RECORD}; logs in ${dir}`);
  console.log(`127.0.0.1:${port}`);
}

async function stop(): Promise<void> {
  const record = readRecord();
  if (record === undefined) {
    say(`kafka: no broker recorded in ${RECORD}`);
    return;
  }
  await stopBroker(record);
  rmSync(RECORD, { force: true });
  say(`kafka: stopped the broker on 127.0.0.1:${record.port} and removed ${record.dir}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const commands: Record<string, () => Promise<void>> = { start, stop };
  const command = commands[process.argv[2] ?? ''];
  if (command === undefined) {
    say('usage: tsx scripts/kafka-broker.ts start|stop');
    process.exit(2);
  }
  try {
    await command();
  } catch (error) {
    say(`kafka: ${(error as Error).message}`);
    process.exit(1);
  }
}
