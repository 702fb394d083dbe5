// The one connection that LISTENs for wake-ups. It is held out of the pool for the driver's
// life and replaced when the server drops it.

import type { Pool, PoolClient } from 'pg';
import { checkout } from './checkout.js';
import { quoteIdent } from './migrate.js';

export class Listener {
  private client: PoolClient | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
    private readonly onNotify: (payload: string) => void,
    private readonly onLost: (error: unknown) => void,
  ) {}

  /** Connects and listens, unless already listening. */
  async start(): Promise<void> {
    if (this.client !== undefined) return;
    let client: PoolClient | undefined;
    // Before LISTEN succeeded, the error reaches start()'s caller instead.
    const lose = (error: unknown) => {
      if (client === undefined || this.client !== client) return;
      this.client = undefined;
      client.release(true);
      this.onLost(error);
    };
    client = await checkout(this.pool, lose);
    client.on('end', () => lose(new Error('the listening connection ended')));
    client.on('notification', (notification) => {
      if (notification.channel === this.channel) this.onNotify(notification.payload ?? '');
    });
    try {
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.client = client;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    await client.query('UNLISTEN *').catch(() => {});
    // Destroyed rather than returned, so a user's pool never gets a client with our listeners.
    client.release(true);
  }
}
