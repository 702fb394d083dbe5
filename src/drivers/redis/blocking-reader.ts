// One blocking read loop (XREAD or XREADGROUP) on a connection of its own, over a set of
// streams that may grow while it waits: a stream added meanwhile ends the wait early
// (CLIENT UNBLOCK), failures back off, and an outage is waited out.

import type { Redis } from 'ioredis';
import { isConnectionError } from './connection.js';
import { streamReply } from './layout.js';
import type { Entry, ReaderHost } from './reader.js';
import { backoffDelay } from '../../core/backoff.js';

/** A failed read is retried after 50 ms, doubling up to 1 s. */
const RETRY = { initialMs: 50, maxMs: 1_000 };

/** What the loop reads for. */
export interface ReadSource {
  /** One blocking read of `keys` from `positions`. */
  read(connection: Redis, keys: string[], positions: string[]): Promise<unknown>;
  handle(key: string, entries: Entry[]): void | Promise<void>;
  /** Repairs what a failed read reports (e.g. a group lost with a server restart); true to read again at once. */
  recover(error: unknown): Promise<boolean>;
  /** Resolves when the source may take more; it may also change the streams to read. */
  room(): Promise<void>;
}

export class BlockingReader {
  private closed = false;
  private connection: Redis | undefined;
  private connectionId: number | undefined;
  private reading = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly host: ReaderHost,
    private readonly source: ReadSource,
    /** Stream key to read position, shared with the source, which adds and moves them. */
    private readonly streams: Map<string, string>,
  ) {}

  /** Opens the connection and starts reading; again after the first call, it does nothing. */
  start(): void {
    if (this.connection !== undefined || this.closed) return;
    const connection = (this.connection = this.host.openReader());
    connection.on('close', () => (this.connectionId = undefined));
    void this.run(connection);
  }

  /** Ends a blocking read early so the next one includes a stream just added. */
  interrupt(): void {
    this.idle?.();
    const id = this.connectionId;
    if (!this.reading || id === undefined) return;
    void (async () => {
      // The read may not have reached the server yet (UNBLOCK answers 0); try again briefly.
      for (let i = 0; i < 20 && this.reading && !this.closed; i++) {
        const unblocked = await this.host.client.call('CLIENT', 'UNBLOCK', id).catch(() => 1);
        if (unblocked === 1) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
  }

  /**
   * Stops the loop without waiting for it (it may be waiting for room that only a close
   * frees), and has the server drop the connection. Until the server sees it closed, an XADD
   * can still serve a blocked XREADGROUP, whose entries then belong to this consumer while
   * the reply is lost: the kill, on the command connection, orders that before whatever the
   * caller sends next (a group member's last look at what it holds). Best effort: nothing is
   * killed while the command connection is down, or without the permission for CLIENT KILL.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.idle?.();
    if (this.connection === undefined) return;
    const known = this.connectionId;
    this.connection.disconnect();
    try {
      const { client } = this.host;
      if (client.status !== 'ready') return;
      // After a reconnect the resent read runs before the loop can ask the new id: find it by name.
      const name = this.connection.options.connectionName;
      const id = known ?? (name && idNamed(String(await client.call('CLIENT', 'LIST', 'TYPE', 'normal')), name));
      if (id) await client.call('CLIENT', 'KILL', 'ID', id);
    } catch {
      // Gone already (ERR No such client), the driver is closed, or the kill is not permitted.
    }
  }

  private async run(connection: Redis): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = undefined;
        continue;
      }
      try {
        await this.source.room();
        if (this.closed) break;
        if (this.streams.size === 0) continue;
        this.connectionId ??= Number(await connection.call('CLIENT', 'ID'));
        if (this.closed) break;
        const keys = [...this.streams.keys()];
        const positions = keys.map((key) => this.streams.get(key)!);
        this.reading = true;
        const reply = await this.source.read(connection, keys, positions).finally(() => (this.reading = false));
        failures = 0;
        for (const [key, entries] of streamReply(reply)) await this.source.handle(key, entries);
      } catch (error) {
        if (this.closed) break;
        if (failures < 3 && (await this.source.recover(error).catch(() => false))) {
          failures++;
          continue;
        }
        if (!isConnectionError(error)) this.host.report(error);
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(++failures, RETRY, 'none')));
      }
    }
  }
}

/** The id of the connection called `name` in a CLIENT LIST reply. */
function idNamed(list: string, name: string): string | undefined {
  for (const line of list.split('\n')) {
    if (line.includes(` name=${name} `)) return /^id=(\d+)/.exec(line)?.[1];
  }
  return undefined;
}
