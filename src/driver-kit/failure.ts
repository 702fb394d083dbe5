// The classes of failure at the driver boundary and the one typed error each becomes, so the
// same failure means the same error, with the same `retriable`, on every driver.

import { ClosedError, ConnectionError, OmnibusError, PublishError, RefusedError, type ErrorDetails } from '../core/errors.js';

/**
 * - `connection`: the broker cannot be reached or the connection dropped (retriable);
 * - `refused`: the broker answered no and will again (credentials, permissions, a missing
 *   database or stream, a command it does not allow);
 * - `closed`: the driver was closed;
 * - `bad-data`: this message can never be stored as it is.
 */
export type FailureKind = 'connection' | 'refused' | 'closed' | 'bad-data';

/** The typed error for a failure of `kind`. */
export function failure(kind: FailureKind, message: string, details: ErrorDetails = {}): OmnibusError {
  switch (kind) {
    case 'connection':
      return new ConnectionError(message, details);
    case 'refused':
      return new RefusedError(message, details);
    case 'closed':
      return new ClosedError(message, details);
    case 'bad-data':
      return new PublishError(message, { ...details, retriable: false });
  }
}
