// The gateway's HTTP API as the page uses it, with the viewer's token. The token lives in
// sessionStorage: it is gone when the tab closes and never lands in a URL or a log.

const TOKEN_KEY = 'omnibus.token';

export class Unauthorized extends Error {
  override name = 'Unauthorized';
}

export const token = {
  get: (): string | undefined => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** GET `path` as JSON; throws `Unauthorized` on 401 and an Error with the gateway's message otherwise. */
export async function getJson<T>(path: string): Promise<T> {
  const bearer = token.get();
  const response = await fetch(path, { headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) throw new Unauthorized(body?.error?.message ?? 'a token is required');
  if (!response.ok) throw new Error(body?.error?.message ?? `${path} answered ${response.status}`);
  return body as T;
}

// The answers' shapes, as the gateway declares them (types only: nothing of the gateway is bundled).
export type { StatsView as Stats } from '../gateway/stats-view.js';
export type { TopicCount } from '../gateway/topics.js';
export type { PresenceEntry } from '../gateway/presence.js';
