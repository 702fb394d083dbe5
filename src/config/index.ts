// `createBusFromConfig()`: the same program on any broker, switched by `omnibus.config.json`
// or `OMNIBUS_*` environment variables instead of code.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Bus } from '../core/bus.js';
import { createBus } from '../create-bus.js';
import type { Driver } from '../core/driver.js';
import { ConfigurationError } from '../core/errors.js';
import { gatewaySettings } from '../gateway/options-schema.js';
import type { DriverDeclaration } from '../driver-kit/declaration.js';
import { declarations } from '../drivers/declarations.js';

const driverConfig = z
  .object({
    /** A registered driver type: `memory`, ... */
    type: z.string().optional(),
    /** An address such as `nats://127.0.0.1:4222`; its scheme names the type. */
    url: z.string().optional(),
  })
  .passthrough()
  .refine((value) => value.type !== undefined || value.url !== undefined, 'a driver needs a "type" or a "url"');

const configSchema = z
  .object({
    driver: driverConfig.optional(),
    drivers: z.record(z.string(), driverConfig).optional(),
    routes: z.array(z.object({ topics: z.array(z.string()).min(1), driver: z.string(), mirror: z.array(z.string()).min(1).optional() }).strict()).optional(),
    closeTimeoutMs: z.number().int().positive().optional(),
    /** Options of `omnibus serve`: auth, limits, heartbeatMs, path, allowedOrigins, insecure. */
    gateway: gatewaySettings.optional(),
  })
  .strict();

export type OmnibusConfig = z.infer<typeof configSchema>;
type DriverConfig = z.infer<typeof driverConfig>;

export interface ConfigSource {
  /** Config file. Default `OMNIBUS_CONFIG`, else `./omnibus.config.json` if it exists. */
  path?: string;
  /** Environment to read `OMNIBUS_*` from. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Reads the config file and environment; `OMNIBUS_URL` replaces the file's driver. */
export async function loadConfig(source: ConfigSource = {}): Promise<OmnibusConfig> {
  const env = source.env ?? process.env;
  const explicit = source.path ?? env.OMNIBUS_CONFIG;
  const path = resolve(explicit ?? 'omnibus.config.json');
  let raw: unknown = {};
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || explicit !== undefined) {
      throw new ConfigurationError(`cannot read Omnibus config ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  const parsed = configSchema.safeParse(raw);
  const issues = parsed.success ? driverIssues(parsed.data) : parsed.error.issues;
  if (issues.length > 0) throw new ConfigurationError(`invalid Omnibus config ${path}: ${describeIssues(issues)}`);
  const config = parsed.data!;
  if (env.OMNIBUS_URL) {
    config.driver = { url: env.OMNIBUS_URL };
    delete config.drivers;
    delete config.routes;
  }
  if (env.OMNIBUS_CLOSE_TIMEOUT_MS) config.closeTimeoutMs = Number(env.OMNIBUS_CLOSE_TIMEOUT_MS);
  return config;
}

const byType = new Map(declarations.map((declaration) => [declaration.type, declaration]));

/** The declaration of the driver a driver config names, by `type` or by its url's scheme. */
function declarationOf({ type, url }: DriverConfig): DriverDeclaration {
  if (type === undefined && url !== undefined) {
    const declaration = declarations.find((d) => d.schemes.some((scheme) => url.startsWith(scheme)));
    if (declaration !== undefined) return declaration;
    const schemes = declarations.flatMap((d) => d.schemes);
    throw new ConfigurationError(`driver url '${url}' has an unknown scheme; use one of: ${schemes.join(', ')}`);
  }
  const declaration = byType.get(type!);
  if (declaration === undefined) {
    throw new ConfigurationError(`unknown driver type '${type}'; known types: ${[...byType.keys()].join(', ')}`);
  }
  return declaration;
}

/** Problems with the options a driver config gives its driver; undefined when there are none. */
function optionIssues(declaration: DriverDeclaration, options: Record<string, unknown>): ReadonlyArray<Issue> | undefined {
  const checked = declaration.options['~standard'].validate(options);
  if (checked instanceof Promise) throw new ConfigurationError(`the ${declaration.type} driver's options schema must check synchronously`);
  return checked.issues;
}

/** Problems in the options each driver config gives its driver, with their paths. */
function driverIssues(config: OmnibusConfig): Issue[] {
  const named: Array<[PropertyKey[], DriverConfig]> = Object.entries(config.drivers ?? {}).map(([name, driver]) => [['drivers', name], driver]);
  if (config.driver !== undefined) named.push([['driver'], config.driver]);
  return named.flatMap(([path, driver]) => {
    const { type, url: _url, ...options } = driver;
    // An unknown type or scheme is reported when the driver is made.
    if (type !== undefined && !byType.has(type)) return [];
    let declaration: DriverDeclaration;
    try {
      declaration = declarationOf(driver);
    } catch {
      return [];
    }
    return (optionIssues(declaration, options) ?? []).map((issue) => ({ ...issue, path: [...path, ...(issue.path ?? []).map(keyOf)] }));
  });
}

export async function createDriver(config: DriverConfig): Promise<Driver> {
  const declaration = declarationOf(config);
  const { type: _type, url, ...options } = config;
  const issues = optionIssues(declaration, options);
  if (issues !== undefined) throw new ConfigurationError(`invalid ${declaration.type} driver options: ${describeIssues(issues)}`);
  const factory = (await declaration.load()) as (options: Record<string, unknown>) => Driver;
  return factory({ ...(url === undefined ? {} : declaration.fromUrl(url)), ...options });
}

/** A bus built from `omnibus.config.json` and `OMNIBUS_*` variables (in-memory when neither says otherwise). */
export async function createBusFromConfig(source: ConfigSource = {}): Promise<Bus> {
  const config = await loadConfig(source);
  const drivers: Record<string, Driver> = {};
  if (config.drivers !== undefined) {
    for (const [name, driverConfig] of Object.entries(config.drivers)) drivers[name] = await createDriver(driverConfig);
  } else {
    const driver = await createDriver(config.driver ?? { type: 'memory' });
    drivers[driver.name] = driver;
  }
  return createBus({ drivers, routes: config.routes, closeTimeoutMs: config.closeTimeoutMs });
}

/** A problem a schema found: Standard Schema's issue, with zod's details where it gives them. */
interface Issue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  readonly code?: string;
  readonly keys?: string[];
  readonly errors?: Issue[][];
}

function keyOf(segment: PropertyKey | { key: PropertyKey }): PropertyKey {
  return typeof segment === 'object' ? segment.key : segment;
}

/** Every problem found, each with its path: `gateway.auth.apiKeys: expected array, received string`. */
function describeIssues(issues: ReadonlyArray<Issue>, base: PropertyKey[] = []): string {
  return issues
    .map((issue) => {
      const path = [...base, ...(issue.path ?? []).map(keyOf)];
      if (issue.code === 'invalid_union' && issue.errors !== undefined) {
        // The alternative that got furthest says what was meant: `anonymous` is false or a grant.
        const closest = issue.errors.reduce((best, branch) => (depth(branch) > depth(best) ? branch : best));
        if (depth(closest) > 0) return describeIssues(closest, path);
      }
      const problem = issue.code === 'unrecognized_keys' && issue.keys !== undefined ? `unknown option ${issue.keys.map((key) => `'${key}'`).join(', ')}` : issue.message;
      return `${path.map(String).join('.') || '(root)'}: ${problem.replace(/^Invalid (input|option): /, '')}`;
    })
    .join('; ');
}

function depth(issues: ReadonlyArray<Issue>): number {
  return Math.max(0, ...issues.map((issue) => issue.path?.length ?? 0));
}
