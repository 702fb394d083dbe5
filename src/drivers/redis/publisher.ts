// Storing messages: one XADD per message, pipelined per batch, with approximate trimming;
// concurrent publishes share one pipeline (driver.ts coalesces them).
// Where an id must be checked for duplicates, or a stream registered for wildcard
// subscribers, the XADD runs inside one Lua step instead so the pair cannot come apart.

import type { Redis } from 'ioredis';
import type { WireMessage } from '../../core/index.js';
import { entryFields, type Keys } from './layout.js';
import { isNoScript, publishScript } from './scripts.js';

type Arg = string | Buffer | number;

export interface Retention {
  maxLength?: number;
  maxAgeMs?: number;
}

/** A publish step that failed, with the message it was for. */
export class PublishFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly topic: string,
  ) {
    super((cause as Error)?.message ?? String(cause));
  }
}

export class Publisher {
  /** Streams this process knows are registered. Cleared on reconnect: a restarted server may have lost them. */
  readonly registered = new Set<string>();

  constructor(
    private readonly keys: Keys,
    private readonly dedupeWindowMs: number,
    private readonly retention: Retention,
  ) {}

  /**
   * Stores the batch in one pipeline, setting the `seq` of each message stored; returns each
   * message's failure (undefined where it was stored), since the others stand. Throws
   * `PublishFailure` when the pipeline as a whole failed.
   */
  async store(client: Redis, batch: WireMessage[]): Promise<unknown[]> {
    const commands = batch.map((wire) => this.command(wire));
    const extra = this.trimLengths(batch);
    if (commands.length === 1 && extra.length === 0) {
      const [command] = commands;
      const result = await this.send(client, command).catch((error) => {
        throw new PublishFailure(error, batch[0].topic);
      });
      this.stored(batch[0], command, result);
      return [undefined];
    }
    const pipeline = client.pipeline();
    for (const command of commands) pipeline.call(...(command.args as [string, ...Arg[]]));
    for (const args of extra) pipeline.call(...(args as [string, ...Arg[]]));
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await pipeline.exec()) as Array<[Error | null, unknown]>;
    } catch (error) {
      throw new PublishFailure(error, batch[0].topic);
    }
    const failures: unknown[] = [];
    for (let i = 0; i < batch.length; i++) {
      let [error, result] = results[i];
      if (error !== null && isNoScript(error)) {
        [error, result] = await this.send(client, commands[i]).then(
          (value) => [null, value] as const,
          (failure: Error) => [failure, undefined] as const,
        );
      }
      if (error === null) this.stored(batch[i], commands[i], result);
      failures.push(error ?? undefined);
    }
    return failures;
  }

  /** Runs one command on its own; a script the server does not know yet goes as EVAL, which caches it. */
  private async send(client: Redis, command: Command): Promise<unknown> {
    try {
      return await client.call(...(command.args as [string, ...Arg[]]));
    } catch (error) {
      if (!command.script || !isNoScript(error)) throw error;
      return client.call('EVAL', publishScript.lua, ...command.args.slice(2));
    }
  }

  private stored(wire: WireMessage, command: Command, result: unknown): void {
    if (command.script) {
      const [seq, stored] = result as [string, number];
      wire.seq = String(seq);
      if (stored === 0) wire.duplicate = true;
      this.registered.add(command.stream);
    } else {
      wire.seq = String(result);
    }
  }

  private command(wire: WireMessage): Command {
    const stream = this.keys.streamName(wire.topic);
    const key = this.keys.stream(stream);
    const register = !this.registered.has(stream);
    const add = [...this.trim(), '*', ...entryFields(wire, stream)];
    if (this.dedupeWindowMs > 0 || register) {
      const { keys } = this;
      return {
        stream,
        script: true,
        args: ['EVALSHA', publishScript.sha, 3, key, keys.dedupe(wire.id), keys.topics, this.dedupeWindowMs, register ? stream : '', keys.events, ...add],
      };
    }
    return { stream, script: false, args: ['XADD', key, ...add] };
  }

  /** XADD's trimming: by age when `maxAgeMs` is set (length then trimmed separately), else by length. */
  trim(): Arg[] {
    const { maxLength, maxAgeMs } = this.retention;
    if (maxAgeMs !== undefined) return ['MINID', '~', Math.max(0, Date.now() - maxAgeMs)];
    return maxLength === undefined ? [] : ['MAXLEN', '~', maxLength];
  }

  /** XADD trims one way only; with both limits, the length is trimmed once per stream per batch. */
  private trimLengths(batch: WireMessage[]): Arg[][] {
    const { maxLength, maxAgeMs } = this.retention;
    if (maxAgeMs === undefined || maxLength === undefined) return [];
    const keys = new Set(batch.map((wire) => this.keys.stream(this.keys.streamName(wire.topic))));
    return [...keys].map((key) => ['XTRIM', key, 'MAXLEN', '~', maxLength]);
  }
}

interface Command {
  stream: string;
  script: boolean;
  args: Arg[];
}
