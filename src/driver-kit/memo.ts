// Values computed from strings that repeat on nearly every message (header names, content
// types), computed once. Bounded: a stream of distinct keys cannot grow memory without limit.

/** `compute`, remembered by key; past `limit` keys it starts over. */
export function boundedMemo<T>(limit: number, compute: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      if (cache.size >= limit) cache.clear();
      value = compute(key);
      cache.set(key, value);
    }
    return value;
  };
}
