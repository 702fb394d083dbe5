// Bearer tokens: static API keys and JWTs (HS256 or RS256 via jose) whose claims list the
// patterns a client may publish and subscribe to, and the tenant prefix it cannot leave.

import { createHash, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { assertPattern, assertTopic, matchesPattern } from '../core/topic.js';

/** What a client may do. Topics and patterns are relative to `tenant`. */
export interface Grant {
  /** Patterns the client may publish to. Default ['>'] for API keys without the field. */
  publish?: string[];
  /** Patterns the client may subscribe to. Default ['>']. */
  subscribe?: string[];
  /** Topic prefix (one or more tokens) put in front of everything the client names. Default: none. */
  tenant?: string;
}

export interface ApiKey extends Grant {
  key: string;
  /** A name for logs. Default: the key's first 4 characters. */
  name?: string;
}

/**
 * - `apiKeys`: static keys with their grants.
 * - `jwt`: verify JWTs signed with `secret` (HS256) or `publicKey` (RS256, PEM); the claims
 *   `publish`, `subscribe` (arrays of patterns) and `tenant` grant access; a missing list
 *   grants nothing. `issuer` and `audience` are checked when given.
 * - `anonymous`: the grant of a client that presents no token. Default: none when `apiKeys`
 *   or `jwt` is set (a token is required), else everything.
 */
export interface AuthOptions {
  apiKeys?: ApiKey[];
  jwt?: { secret?: string; publicKey?: string; issuer?: string; audience?: string };
  anonymous?: Grant | false;
}

/** The name of the principal of a request without a token, where auth allows that. */
export const ANONYMOUS = 'anonymous';

export class Principal {
  readonly tenant: string | undefined;
  private readonly prefix: string;
  /**
   * `client`: who counts against per-client limits (connections, publish rate). Default the
   * name; a JWT without `sub` is a client of its own.
   */
  constructor(
    readonly name: string,
    private readonly grant: Grant,
    readonly client = name,
  ) {
    this.tenant = grant.tenant;
    if (this.tenant !== undefined) assertTopic(this.tenant);
    this.prefix = this.tenant === undefined ? '' : `${this.tenant}.`;
  }

  canPublish(topic: string): boolean {
    return (this.grant.publish ?? []).some((allowed) => matchesPattern(allowed, topic));
  }

  canSubscribe(pattern: string): boolean {
    return (this.grant.subscribe ?? []).some((allowed) => patternCovers(allowed, pattern));
  }

  /** The bus topic for a topic the client named. */
  toBus(topic: string): string {
    return this.prefix + topic;
  }

  /** The topic as the client sees it. */
  fromBus(topic: string): string {
    return this.prefix.length === 0 ? topic : topic.slice(this.prefix.length);
  }

  /** The client's name for a bus topic, or undefined when the topic lies outside its tenant. */
  ownTopic(topic: string): string | undefined {
    if (this.prefix.length === 0) return topic;
    return topic.startsWith(this.prefix) && topic.length > this.prefix.length ? topic.slice(this.prefix.length) : undefined;
  }

  get grants(): Required<Omit<Grant, 'tenant'>> & { tenant?: string } {
    return { publish: this.grant.publish ?? [], subscribe: this.grant.subscribe ?? [], tenant: this.tenant };
  }
}

/** Whether every topic `requested` matches also matches `allowed`. */
export function patternCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('.');
  const r = requested.split('.');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '>') return r.length > i;
    if (i >= r.length) return false;
    if (r[i] === '>') return false;
    if (a[i] === '*') continue;
    if (a[i] !== r[i]) return false;
  }
  return a.length === r.length;
}

export class AuthError extends Error {
  override name = 'AuthError';
  readonly code = 'UNAUTHORIZED';
}

const EVERYTHING: Grant = { publish: ['>'], subscribe: ['>'] };

export class Authenticator {
  private readonly keys = new Map<string, ApiKey>();
  private readonly jwtKey: KeyObject | undefined;
  private readonly anonymous: Grant | undefined;

  constructor(private readonly options: AuthOptions = {}) {
    for (const apiKey of options.apiKeys ?? []) {
      checkGrant(apiKey, `API key '${apiKey.name ?? apiKey.key.slice(0, 4)}'`);
      this.keys.set(apiKey.key, apiKey);
    }
    const { jwt } = options;
    if (jwt?.secret !== undefined) this.jwtKey = createSecretKey(Buffer.from(jwt.secret));
    else if (jwt?.publicKey !== undefined) this.jwtKey = createPublicKey(jwt.publicKey);
    const secured = this.keys.size > 0 || this.jwtKey !== undefined;
    this.anonymous = options.anonymous === false ? undefined : (options.anonymous ?? (secured ? undefined : EVERYTHING));
    if (this.anonymous !== undefined) checkGrant(this.anonymous, 'the anonymous grant');
  }

  /** Whether a client without a token may do nothing. */
  get required(): boolean {
    return this.anonymous === undefined;
  }

  /** Whether API keys or JWTs are configured at all. */
  get configured(): boolean {
    return this.keys.size > 0 || this.jwtKey !== undefined;
  }

  anonymousPrincipal(): Principal | undefined {
    return this.anonymous === undefined ? undefined : new Principal(ANONYMOUS, this.anonymous);
  }

  /** Resolves to the token's principal; rejects with AuthError saying why. */
  async verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0) throw new AuthError('empty token');
    const apiKey = this.keys.get(token);
    if (apiKey !== undefined) {
      return new Principal(apiKey.name ?? `key:${apiKey.key.slice(0, 4)}`, { publish: ['>'], subscribe: ['>'], ...apiKey });
    }
    if (this.jwtKey === undefined || token.split('.').length !== 3) throw new AuthError('unknown API key');
    const { jwt } = this.options;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.jwtKey, {
        algorithms: jwt?.secret !== undefined ? ['HS256'] : ['RS256'],
        issuer: jwt?.issuer,
        audience: jwt?.audience,
      }));
    } catch (error) {
      throw new AuthError(`invalid token: ${(error as Error).message}`);
    }
    // Malformed claims fail closed: a tenant that is not a string would otherwise mean no tenant at all.
    if (payload.tenant !== undefined && typeof payload.tenant !== 'string') {
      throw new AuthError(`the token's "tenant" claim must be a string, got ${describe(payload.tenant)}`);
    }
    const grant: Grant = {
      publish: patternList(payload.publish, 'publish'),
      subscribe: patternList(payload.subscribe, 'subscribe'),
      tenant: payload.tenant,
    };
    try {
      checkGrant(grant, 'the token');
    } catch (error) {
      throw new AuthError((error as Error).message);
    }
    const tenant = grant.tenant === undefined ? '' : `${grant.tenant}/`;
    const client = typeof payload.sub === 'string' ? `jwt:${tenant}${payload.sub}` : `jwt:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
    return new Principal(typeof payload.sub === 'string' ? payload.sub : 'jwt', grant, client);
  }
}

/** A claim listing patterns: absent grants nothing; anything but an array of strings is refused. */
function patternList(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new AuthError(`the token's "${claim}" claim must be an array of patterns, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

function checkGrant(grant: Grant, what: string): void {
  for (const pattern of [...(grant.publish ?? []), ...(grant.subscribe ?? [])]) {
    try {
      assertPattern(pattern);
    } catch (error) {
      throw new Error(`${what} grants an invalid pattern: ${(error as Error).message}`);
    }
  }
  if (grant.tenant === undefined) return;
  if (typeof grant.tenant !== 'string') throw new Error(`${what} has a tenant that is not a string`);
  try {
    assertTopic(grant.tenant);
  } catch (error) {
    throw new Error(`${what} names an invalid tenant: ${(error as Error).message}`);
  }
}
