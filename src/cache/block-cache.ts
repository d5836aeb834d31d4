// A caching block device: fixed-size blocks in an LRU bounded in bytes (lru-cache),
// plus an overlay of blocks that must never be evicted (dirty metadata of a running
// transaction, or journal blocks replayed into memory for a read-only open).
//
// Blocks handed out are the cached Uint8Arrays themselves: callers must not keep
// them across operations that may evict, and must go through markDirty() to change
// them (the write path's transaction layer does).
import { LRUCache } from 'lru-cache';
import type { BlockDevice } from '../io/block-device.js';

export interface BlockCacheStats {
  hits: number;
  misses: number;
  cachedBytes: number;
  pinnedBlocks: number;
}

export class BlockCache {
  private lru: LRUCache<number, Uint8Array>;
  /** Blocks held outside the LRU: dirty blocks and the read-only replay overlay. */
  private pinned = new Map<number, Uint8Array>();
  private dirty = new Set<number>();
  hits = 0;
  misses = 0;

  constructor(readonly dev: BlockDevice, readonly blockSize: number, maxBytes = 64 * 1024 * 1024) {
    this.lru = new LRUCache<number, Uint8Array>({
      maxSize: Math.max(maxBytes, blockSize * 16),
      sizeCalculation: () => blockSize,
    });
  }

  get blockCount(): number {
    return Math.floor(this.dev.size / this.blockSize);
  }

  /** The cached contents of block `nr` (read from the device on a miss). */
  get(nr: number): Uint8Array {
    const p = this.pinned.get(nr);
    if (p !== undefined) { this.hits++; return p; }
    let b = this.lru.get(nr);
    if (b !== undefined) { this.hits++; return b; }
    this.misses++;
    b = new Uint8Array(this.blockSize);
    this.dev.read(b, nr * this.blockSize);
    this.lru.set(nr, b);
    return b;
  }

  /** Read `count` contiguous blocks into `dst` (uncached bulk path for file data). */
  readRun(nr: number, count: number, dst: Uint8Array, dstOffset = 0): void {
    const len = count * this.blockSize;
    // Any block of the run that is pinned or cached may be newer than the device.
    let direct = this.pinned.size === 0 && this.lru.size === 0;
    if (!direct) {
      direct = true;
      for (let i = 0; i < count; i++) {
        if (this.pinned.has(nr + i) || this.lru.has(nr + i)) { direct = false; break; }
      }
    }
    if (direct) {
      this.dev.read(dst.subarray(dstOffset, dstOffset + len), nr * this.blockSize);
      return;
    }
    for (let i = 0; i < count; i++) {
      const p = this.pinned.get(nr + i) ?? this.lru.get(nr + i);
      const off = dstOffset + i * this.blockSize;
      if (p !== undefined) dst.set(p, off);
      else this.dev.read(dst.subarray(off, off + this.blockSize), (nr + i) * this.blockSize);
    }
  }

  /** Put a block into the overlay: kept in memory, never evicted, never written. */
  setOverlay(nr: number, data: Uint8Array): void {
    const b = new Uint8Array(this.blockSize);
    b.set(data.subarray(0, this.blockSize));
    this.lru.delete(nr);
    this.pinned.set(nr, b);
  }

  /** Mark a block (from get()) as changed: pinned until writeBack(). */
  markDirty(nr: number, data: Uint8Array): void {
    if (!this.pinned.has(nr)) {
      this.lru.delete(nr);
      this.pinned.set(nr, data);
    }
    this.dirty.add(nr);
  }

  isDirty(nr: number): boolean {
    return this.dirty.has(nr);
  }

  dirtyBlocks(): number[] {
    return [...this.dirty].sort((a, b) => a - b);
  }

  /** Write the given dirty blocks (default: all) to the device, in block order, and unpin them. */
  writeBack(blocks: number[] = this.dirtyBlocks()): void {
    for (const nr of blocks) {
      const b = this.pinned.get(nr);
      if (b === undefined || !this.dirty.has(nr)) continue;
      this.dev.write(b, nr * this.blockSize);
      this.dirty.delete(nr);
      this.pinned.delete(nr);
      this.lru.set(nr, b);
    }
  }

  /** Install `data` as block nr's cached contents (a fresh block not read from disk). */
  replace(nr: number, data: Uint8Array): void {
    if (this.pinned.has(nr)) this.pinned.set(nr, data);
    else this.lru.set(nr, data);
  }

  /** Drop a block entirely, dirty or not (it was freed; its pending write is void). */
  discard(nr: number): void {
    this.dirty.delete(nr);
    this.pinned.delete(nr);
    this.lru.delete(nr);
  }

  /** Write whole blocks of file data straight to the device, keeping cached copies coherent. */
  writeRun(nr: number, data: Uint8Array): void {
    const bs = this.blockSize;
    if (data.length % bs !== 0) throw new Error(`writeRun of ${data.length} bytes is not whole blocks`);
    const count = data.length / bs;
    if (this.lru.size > 0 || this.pinned.size > 0) {
      for (let i = 0; i < count; i++) {
        if (this.dirty.has(nr + i)) throw new Error(`data write over dirty metadata block ${nr + i}`);
        const cached = this.lru.peek(nr + i) ?? this.pinned.get(nr + i);
        if (cached !== undefined) cached.set(data.subarray(i * bs, (i + 1) * bs));
      }
    }
    this.dev.write(data, nr * bs);
  }

  /** Forget a cached block (e.g. after a data write went straight to the device). */
  invalidate(nr: number): void {
    if (!this.dirty.has(nr)) {
      this.lru.delete(nr);
      if (this.pinned.has(nr)) this.pinned.delete(nr);
    }
  }

  stats(): BlockCacheStats {
    return { hits: this.hits, misses: this.misses, cachedBytes: this.lru.calculatedSize ?? 0, pinnedBlocks: this.pinned.size };
  }
}
