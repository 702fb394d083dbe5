// The consumer of each group in this process, found by group and pattern: one group name on
// two patterns is two groups, each with a position of its own.

export class GroupTable<V> {
  private readonly groups = new Map<string, V>();

  get(group: string, pattern: string): V | undefined {
    return this.groups.get(key(group, pattern));
  }

  set(group: string, pattern: string, value: V): void {
    this.groups.set(key(group, pattern), value);
  }

  delete(group: string, pattern: string): void {
    this.groups.delete(key(group, pattern));
  }

  values(): IterableIterator<V> {
    return this.groups.values();
  }

  clear(): void {
    this.groups.clear();
  }
}

function key(group: string, pattern: string): string {
  return `${group}\u0000${pattern}`;
}
