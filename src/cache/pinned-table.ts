// A refcounted table: one object per key. An entry is pinned while its refcount
// is above zero; unpinned entries stay in a bounded LRU and may be dropped.
// The ext2 inode table (one Inode per on-disk inode, DESIGN.md) is built on it.
import { LRUCache } from 'lru-cache';

export interface Pinnable {
  /** True while the object holds state that must not be dropped (e.g. dirty). */
  readonly mustKeep?: boolean;
}

export class PinnedTable<K extends {}, V extends object> {
  private pinned = new Map<K, { value: V; refs: number }>();
  private idle: LRUCache<K, V>;

  constructor(maxIdle: number, private onDrop?: (key: K, value: V) => void) {
    this.idle = new LRUCache<K, V>({
      max: Math.max(1, maxIdle),
      dispose: (value, key, reason) => {
        if (reason === 'evict') this.onDrop?.(key, value);
      },
    });
  }

  /** The object for `key` if it is in memory (pinned or idle), without pinning it. */
  peek(key: K): V | undefined {
    return this.pinned.get(key)?.value ?? this.idle.get(key);
  }

  /** The object for `key`, creating it with `load` if absent. Does not pin. */
  get(key: K, load: () => V): V {
    const p = this.pinned.get(key);
    if (p !== undefined) return p.value;
    let v = this.idle.get(key);
    if (v === undefined) {
      v = load();
      this.idle.set(key, v);
    }
    return v;
  }

  /** Take one reference on `key`'s object (loading it if needed). */
  pin(key: K, load: () => V): V {
    const p = this.pinned.get(key);
    if (p !== undefined) { p.refs++; return p.value; }
    let v = this.idle.get(key);
    if (v !== undefined) this.idle.delete(key);
    else v = load();
    this.pinned.set(key, { value: v, refs: 1 });
    return v;
  }

  /** Drop one reference; at zero the object moves to the idle LRU. Returns the new count. */
  unpin(key: K): number {
    const p = this.pinned.get(key);
    if (p === undefined) throw new Error(`unpin of unpinned key ${String(key)}`);
    p.refs--;
    if (p.refs > 0) return p.refs;
    this.pinned.delete(key);
    this.idle.set(key, p.value);
    return 0;
  }

  refs(key: K): number {
    return this.pinned.get(key)?.refs ?? 0;
  }

  /** Remove an unpinned object entirely (e.g. its inode was freed). */
  forget(key: K): void {
    if (this.pinned.has(key)) throw new Error(`forget of pinned key ${String(key)}`);
    const v = this.idle.peek(key);
    this.idle.delete(key);
    if (v !== undefined) this.onDrop?.(key, v);
  }

  get pinnedCount(): number { return this.pinned.size; }
  get idleCount(): number { return this.idle.size; }

  *pinnedEntries(): IterableIterator<[K, V]> {
    for (const [k, p] of this.pinned) yield [k, p.value];
  }
}
