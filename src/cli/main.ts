#!/usr/bin/env node
// The `omnibus` command. Exit codes: 0 success, 1 runtime failure (gateway unreachable,
// refused, publish failed), 2 usage error.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigurationError } from '../core/errors.js';
import { asyncapi } from './asyncapi.js';
import { relay } from './outbox.js';
import { pub, replay, sub, topics } from './remote.js';
import { LOG_LEVELS } from './log.js';
import { serve, UsageError } from './serve.js';

// Two levels below the package root, in src/cli as in dist/cli.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('omnibus')
  .description('One publish/subscribe API over every broker: serve the gateway, or publish and subscribe through it.')
  .version(version)
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

const url = () => new Option('--url <url>', 'gateway WebSocket address').env('OMNIBUS_GATEWAY_URL').default('ws://127.0.0.1:4000/v1/ws');
const token = () => new Option('--token <token>', 'bearer token (API key or JWT)').env('OMNIBUS_TOKEN');

program
  .command('serve')
  .description('start the gateway: HTTP, WebSocket and SSE on one port, over ./omnibus.db (SQLite) or the configured driver')
  .addOption(new Option('--port <port>', 'port to listen on').env('PORT').default('4000'))
  .option('--host <host>', 'address to bind (another than loopback needs gateway.auth, or --insecure)', '127.0.0.1')
  .option('--config <file>', 'config file (default: ./omnibus.config.json if present, or OMNIBUS_CONFIG)')
  .option('--db <file>', 'SQLite file (the default driver)', undefined)
  .option('--memory', 'use the in-memory driver (nothing survives a restart)')
  .option('--catalog <module>', 'a module exporting the event catalogue (defineCatalog), served at /asyncapi.json')
  .option('--insecure', 'allow a non-loopback --host without gateway.auth: anyone who reaches it may read and publish everything')
  .addOption(new Option('--log-level <level>', 'least severe log lines written (JSON lines on stdout)').env('OMNIBUS_LOG_LEVEL').choices(LOG_LEVELS).default('info'))
  .option('--pretty', 'human-readable log lines (pino-pretty) instead of JSON')
  .action(serve);

program
  .command('pub')
  .description('publish one message; prints {"messageId","seq"}')
  .argument('<topic>', 'topic, e.g. orders.placed')
  .argument('<data>', "JSON text, @file holding JSON, or - for stdin")
  .option('--raw', 'send <data> (or the file, or stdin) as a string instead of parsing it as JSON')
  .addOption(url())
  .addOption(token())
  .option('--key <key>', 'ordering key')
  .option('--id <id>', 'message id (the de-duplication key)')
  .option('--header <name=value...>', 'header, repeatable')
  .option('--ttl <ms>', 'time to live in milliseconds')
  .option('--delay <duration>', 'deliver after this long, e.g. 5s or 500ms (the gateway\'s driver needs delayed delivery)')
  .option('--deliver-at <iso>', 'deliver no earlier than this ISO 8601 moment, e.g. 2030-01-01T09:00:00Z')
  .action((topic, data, options) => pub(topic, data, options));

program
  .command('sub')
  .description('print messages as JSON lines until interrupted')
  .argument('<pattern>', "topic pattern: '*' one token, '>' the rest")
  .addOption(url())
  .addOption(token())
  .option('--group <name>', 'consumer group: share messages with other members')
  .option('--from <position>', "'earliest', 'latest', a seq, or an ISO time")
  .option('--count <n>', 'exit after n messages')
  .action((pattern, options) => sub(pattern, options));

program
  .command('replay')
  .description('print the retained messages as JSON lines, up to the newest when it started, then exit')
  .argument('<pattern>', 'topic pattern')
  .addOption(url())
  .addOption(token())
  .option('--from <position>', "'earliest' (default), a seq, or an ISO time")
  .option('--limit <n>', 'stop after n messages')
  .action((pattern, options) => replay(pattern, options));

program
  .command('topics')
  .description('list topics published through the gateway, with counts, as JSON lines')
  .addOption(url())
  .addOption(token())
  .action((options) => topics(options));

program
  .command('outbox')
  .description("transactional outbox commands")
  .command('relay')
  .description('publish committed outbox rows, in order, to the configured bus until interrupted')
  .addOption(new Option('--database <url>', 'the application database holding the outbox').env('OMNIBUS_OUTBOX_DATABASE').default('postgres://127.0.0.1:5432/test'))
  .option('--schema <name>', "schema of the outbox table", 'omnibus')
  .option('--config <file>', 'config naming the destination bus (default: ./omnibus.config.json, or OMNIBUS_URL)')
  .option('--batch-size <n>', 'rows per transaction', '100')
  .action((options) => relay(options));

program
  .command('asyncapi')
  .description("write the AsyncAPI 3.0 document of the event catalogue a module exports (as 'catalog' or its default)")
  .argument('<module>', 'the module defining the catalogue with defineCatalog()')
  .option('--title <title>', 'the document title', 'Omnibus events')
  .option('--version <version>', "the application's version", '1.0.0')
  .option('--server <url>', 'the gateway address clients use, e.g. wss://bus.example.com/v1/ws')
  .option('--out <file>', 'write to a file instead of stdout')
  .action((module, options) => asyncapi(module, options));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  // Bad options or configuration are the caller's to fix, like bad arguments.
  const usage = error instanceof UsageError || error instanceof ConfigurationError;
  console.error(`omnibus: ${(error as Error).message}`);
  process.exit(usage ? 2 : 1);
}
