// What a driver says about itself, once, beside its code: the names configuration uses for
// it, what it needs, and the options a file may give it. The configuration registry, the
// package's exports and peer dependencies and the README's driver table are made from these
// declarations (`npm run docs`), never kept by hand in a second place.

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
  /** Its factory, imported only when configuration uses it. */
  load(): Promise<(options: never) => Driver>;
}

/** The identity function that types a driver's declaration. */
export function declareDriver(declaration: DriverDeclaration): DriverDeclaration {
  return declaration;
}
