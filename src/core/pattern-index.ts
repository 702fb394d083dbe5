// A token trie from patterns to values, so finding the subscriptions for a topic costs
// the topic's depth rather than the number of patterns (10,000 patterns stay fast).

interface Node<V> {
  children: Map<string, Node<V>>;
  /** Values whose pattern ends exactly at this node. */
  exact: Set<V>;
  /** Values whose pattern ends with '>' below this node. */
  rest: Set<V>;
}

function node<V>(): Node<V> {
  return { children: new Map(), exact: new Set(), rest: new Set() };
}

export class PatternIndex<V> {
  private readonly root: Node<V> = node();
  private count = 0;
  // Lookups repeat per topic; the cache is dropped whenever the index changes.
  private cache = new Map<string, V[]>();

  get size(): number {
    return this.count;
  }

  add(pattern: string, value: V): void {
    let current = this.root;
    const tokens = pattern.split('.');
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token === '>') {
        current.rest.add(value);
        this.changed(1);
        return;
      }
      let next = current.children.get(token);
      if (next === undefined) {
        next = node();
        current.children.set(token, next);
      }
      current = next;
    }
    current.exact.add(value);
    this.changed(1);
  }

  delete(pattern: string, value: V): boolean {
    const tokens = pattern.split('.');
    const path: Array<[Node<V>, string]> = [];
    let current = this.root;
    let removed = false;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token === '>') {
        removed = current.rest.delete(value);
        break;
      }
      const next = current.children.get(token);
      if (next === undefined) return false;
      path.push([current, token]);
      current = next;
      if (i === tokens.length - 1) removed = current.exact.delete(value);
    }
    if (!removed) return false;
    // Prune branches left empty so long-lived buses with churning patterns stay small.
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, token] = path[i];
      const child = parent.children.get(token)!;
      if (child.children.size > 0 || child.exact.size > 0 || child.rest.size > 0) break;
      parent.children.delete(token);
    }
    this.changed(-1);
    return true;
  }

  /** Every value whose pattern matches the concrete topic, each once. */
  match(topic: string): V[] {
    const cached = this.cache.get(topic);
    if (cached !== undefined) return cached;
    const found = new Set<V>();
    this.collect(this.root, topic.split('.'), 0, found);
    const result = [...found];
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(topic, result);
    return result;
  }

  private collect(current: Node<V>, tokens: string[], depth: number, found: Set<V>): void {
    if (depth === tokens.length) {
      for (const value of current.exact) found.add(value);
      return;
    }
    for (const value of current.rest) found.add(value);
    const literal = current.children.get(tokens[depth]);
    if (literal !== undefined) this.collect(literal, tokens, depth + 1, found);
    const star = current.children.get('*');
    if (star !== undefined) this.collect(star, tokens, depth + 1, found);
  }

  private changed(delta: number): void {
    this.count += delta;
    if (this.cache.size > 0) this.cache = new Map();
  }
}
