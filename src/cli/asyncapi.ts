// `omnibus asyncapi`: the AsyncAPI 3.0 document of an application's event catalogue, from the
// module that defines it (its `catalog` export, or its default export).

import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Catalog } from '../catalog/index.js';
import { UsageError } from './serve.js';

export interface AsyncApiCommandOptions {
  title: string;
  version: string;
  /** `ws://host:port/path` of the gateway, named `gateway` in the document's servers. */
  server?: string;
  out?: string;
}

/** The catalogue `module` exports as `catalog` or by default; a usage error naming the module otherwise. */
export async function loadCatalog(module: string): Promise<Catalog> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(resolve(module)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load the catalogue module '${module}': ${(error as Error).message} (a .ts module needs: node --import tsx $(which omnibus) ...)`);
  }
  const catalog = (loaded.catalog ?? loaded.default) as Catalog | undefined;
  if (typeof catalog?.toAsyncAPI !== 'function') {
    throw new UsageError(`'${module}' exports no catalogue: export one made by defineCatalog() as 'catalog' or as the default export`);
  }
  return catalog;
}

export async function asyncapi(module: string, options: AsyncApiCommandOptions): Promise<void> {
  const catalog = await loadCatalog(module);
  const servers = options.server === undefined ? undefined : { gateway: serverOf(options.server) };
  const text = `${JSON.stringify(catalog.toAsyncAPI({ title: options.title, version: options.version, servers }), null, 2)}\n`;
  if (options.out === undefined) process.stdout.write(text);
  else await writeFile(options.out, text);
}

function serverOf(address: string): { host: string; protocol: string; pathname?: string } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new UsageError(`--server must be a URL such as ws://127.0.0.1:4000/v1/ws, not '${address}'`);
  }
  return { host: url.host, protocol: url.protocol.slice(0, -1), ...(url.pathname === '/' ? {} : { pathname: url.pathname }) };
}
