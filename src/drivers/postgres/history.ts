// `read()`: the retained messages matching a pattern, from a position up to the newest seq
// at the call, in chunks of one query each, so nothing is held between chunks and a caller
// that stops early (`break`) leaves no connection or cursor behind.

import type { WireMessage } from '../../core/driver.js';
import { toWire, type StoredRow } from './consumer.js';
import type { Position } from './positions.js';
import { readBoundsStatement, readStatement, type Statement } from './queries.js';

/** Messages per query: small enough that a reader who stops early fetched little it did not want. */
export const READ_CHUNK = 256;
/**
 * Each query looks at a window of seqs, growing while the pattern finds little: one query over
 * the whole range would have the planner, unable to guess how selective the pattern is, scan
 * and sort all of it again for every chunk.
 */
const FIRST_WINDOW = 4 * READ_CHUNK;
const LAST_WINDOW = 100_000n;

export type Query = <Row>(statement: Statement) => Promise<Row[]>;

interface Bounds {
  first: string | null;
  last: string | null;
}

export function readHistory(query: Query, schema: string, regex: string | null, from: Exclude<Position, { latest: true }>): AsyncIterable<WireMessage> {
  // The snapshot's end is taken now, at the call, not when the caller starts iterating.
  const bounds = query<Bounds>(readBoundsStatement(schema, from));
  bounds.catch(() => {}); // Its failure goes to whoever iterates, if anyone does.
  return chunks(query, schema, regex, bounds);
}

async function* chunks(query: Query, schema: string, regex: string | null, bounds: Promise<Bounds[]>): AsyncGenerator<WireMessage> {
  const [{ first: start, last: end }] = await bounds;
  if (start === null || end === null) return;
  const last = BigInt(end);
  let window = BigInt(FIRST_WINDOW);
  for (let first = BigInt(start); first <= last; ) {
    const to = first + window - 1n < last ? first + window - 1n : last;
    const rows: StoredRow[] = await query<StoredRow>(readStatement(schema, regex, first.toString(), to.toString(), READ_CHUNK));
    for (const row of rows) yield toWire(row);
    if (rows.length === READ_CHUNK) {
      first = BigInt(rows[rows.length - 1].seq) + 1n;
    } else {
      first = to + 1n;
      if (window < LAST_WINDOW) window *= 2n;
    }
  }
}
