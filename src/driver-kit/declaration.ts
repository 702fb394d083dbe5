// What a driver says about itself, once, beside its code: the names configuration uses for
// it, what it needs, the options a file may give it and what it promises. The configuration
// registry, the package's exports and peer dependencies, the README's driver table and
// docs/drivers.md are made from these declarations (`npm run docs`), never kept by hand in a
// second place.

import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Driver } from '../core/driver.js';

export interface DriverDeclaration {
  /** The type configuration names it by (`{ "driver": { "type": "redis" } }`), and its folder and subpath: `omnibus/drivers/<type>`. */
  type: string;
  /** URL schemes that name it in `OMNIBUS_URL` or a driver's `url`, with the colon: `['redis:', 'rediss:']`. */
  schemes: string[];
  /** An address of it, for the README (`redis://127.0.0.1:6379`). */
  example: string;
  /** The driver options an address of one of `schemes` stands for. */
  fromUrl(url: string): Record<string, unknown>;
  /** The options a configuration file may give it (those JSON can hold), checked before the driver is made. */
  options: StandardSchemaV1;
  /** The optional peer packages it loads on first use, with their version ranges. */
  peers: Record<string, string>;
  /** What running it takes, in words, for the README's driver table. */
  needs: string;
  /** Options that make a driver without connecting anywhere, whose capabilities the table shows. Default `{}`. */
  tableOptions?: Record<string, unknown>;
  /** What it promises, in words, for its section of docs/drivers.md. */
  semantics: DriverSemantics;
  /** Its factory, imported only when configuration uses it. */
  load(): Promise<(options: never) => Driver>;
}

/**
 * A driver's semantics, one Markdown sentence or two each, true of the code beside it. The
 * capabilities table above them is made from the driver itself; these say what the table
 * cannot: how, for how long, and where the broker falls short.
 */
export interface DriverSemantics {
  /** What a resolved `publish()` guarantees: where the message is by then. */
  publish: string;
  /** What a resolved `ack()` guarantees, and what can still bring the message back. */
  ack: string;
  /** What survives a crash of the process, of the broker, of the machine. */
  durability: string;
  /** Which messages keep their publish order, for whom. */
  ordering: string;
  /** How an id published twice is stored once, and for how long; or why it is not. */
  dedupe: string;
  /** How a group's members share its messages, and where its position is kept. */
  groups: string;
  /** What `from` and `read()` can go back to, and how long messages are kept. */
  replay: string;
  /** Who redelivers a message left unsettled past its ack deadline. */
  ackDeadline: string;
  /** Where the payload limit comes from. */
  maxPayload: string;
  /** How `lag()` counts a group's messages, or why the driver has no `lag()`. */
  lag: string;
  /** How `publish(..., { delayMs | deliverAt })` waits for its due time, or why it is refused. */
  delays: string;
  /** What it cannot do, one item each. */
  limits: string[];
}

/** The identity function that types a driver's declaration. */
export function declareDriver(declaration: DriverDeclaration): DriverDeclaration {
  return declaration;
}
