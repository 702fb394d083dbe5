// Taking a client out of a pool with an 'error' listener already on it. After `await
// pool.connect()` the caller attaches one a microtask too late: a new connection whose
// first packet carries both the server's welcome and its goodbye (a shutdown just then)
// emits 'error' with nobody listening, which is an uncaught exception.

import type { Pool, PoolClient } from 'pg';

/** A client from `pool` with `onError` listening from the moment the pool hands it out. */
export function checkout(pool: Pool, onError: (error: Error) => void): Promise<PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((error, client) => {
      if (error !== undefined && error !== null) return reject(error);
      client!.on('error', onError);
      resolve(client!);
    });
  });
}
