// Block mapping, write side: one entry point for extent-mapped and indirect-mapped
// files. Documentation/filesystems/ext4/ifork.rst; allocation policy from
// overview.rst ("Block and Inode Allocation Policy": keep a file's blocks
// contiguous, start near its inode or its previous block).
import { Errno } from '../util/errno.js';
import type { Inode } from './inode.js';
import { InodeFlags } from './layout/inode.js';
import { INCOMPAT } from './layout/features.js';
import { EXT_INIT_MAX_LEN, EXT_UNWRITTEN_MAX_LEN } from './layout/extent.js';
import { runAt, usesExtents, type Run } from './file.js';
import { ExtentNoSpace, initExtentRoot, insertExtent, removeExtents, setExtentState } from './extent-write.js';
import { IndirectNoSpace, indirectClear, indirectSet } from './indirect-write.js';
import { maxIndirectBlocks } from './indirect.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

export interface MappedRun extends Run {
  /** Newly allocated by this call: its old contents are garbage and must be overwritten or zeroed. */
  fresh: boolean;
}

/** Logical blocks a file may address (EFBIG beyond). */
export function maxFileBlocks(vol: Volume, inode: Inode): number {
  return usesExtents(inode) ? 0x1_0000_0000 - 1 : maxIndirectBlocks(vol.blockSize);
}

/** Give a new inode an empty block map: an extent root where the fs has extents. */
export function initBlockMap(vol: Volume, inode: Inode): void {
  if (vol.has('incompat', INCOMPAT.extent)) {
    inode.flags = (inode.flags | InodeFlags.EXTENTS) >>> 0;
    initExtentRoot(inode);
  } else {
    inode.flags = (inode.flags & ~InodeFlags.EXTENTS) >>> 0;
    inode.bytes.fill(0, 0x28, 0x28 + 60);
  }
}

function goalFor(vol: Volume, inode: Inode, lblk: number): number {
  if (lblk > 0) {
    // The block just before, if mapped: continue right after it.
    const prev = runAt(vol, inode, lblk - 1);
    if (prev.physical !== 0) return prev.physical + 1;
  }
  return vol.inodeGoalBlock(inode);
}

/**
 * Make [lblk, lblk + count) mapped: holes get new blocks (unwritten extents when
 * asked), mapped blocks are left alone. Returns every run of the range, in order,
 * or -ENOSPC / -EFBIG (nothing newly mapped by a failing call stays mapped).
 */
export function allocateRange(vol: Volume, h: Handle, inode: Inode, lblk: number, count: number, opts: { unwritten?: boolean } = {}): MappedRun[] | number {
  const end = lblk + count;
  if (end > maxFileBlocks(vol, inode)) return -Errno.EFBIG;
  const extents = usesExtents(inode);
  if (opts.unwritten && !extents) return -Errno.EOPNOTSUPP;
  const runs: MappedRun[] = [];
  const fresh: { lblk: number; len: number }[] = [];
  // A run allocated but not yet (wholly) in the map when a tree or indirect block could not be had.
  let pending: { lblk: number; start: number; len: number; mapped: number } | null = null;
  let cur = lblk;
  try {
    while (cur < end) {
      const r = runAt(vol, inode, cur);
      const n = Math.min(r.length, end - cur);
      if (r.physical !== 0) {
        runs.push({ logical: cur, physical: r.physical, length: n, unwritten: r.unwritten, fresh: false });
        cur += n;
        continue;
      }
      const maxLen = opts.unwritten ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN;
      const got = vol.alloc.allocBlocks(h, goalFor(vol, inode, cur), Math.min(n, extents ? maxLen : n));
      if (typeof got === 'number') throw new NoSpace();
      inode.blocks512 = inode.blocks512 + got.length * (vol.blockSize / 512);
      pending = { lblk: cur, start: got.start, len: got.length, mapped: 0 };
      if (extents) {
        insertExtent(vol, h, inode, { lblk: cur, len: got.length, pblk: got.start, unwritten: !!opts.unwritten });
        pending.mapped = got.length;
      } else {
        for (let i = 0; i < got.length; i++) {
          indirectSet(vol, h, inode, cur + i, got.start + i, got.start + i);
          pending.mapped = i + 1;
        }
      }
      pending = null;
      fresh.push({ lblk: cur, len: got.length });
      runs.push({ logical: cur, physical: got.start, length: got.length, unwritten: !!opts.unwritten, fresh: true });
      cur += got.length;
    }
  } catch (e) {
    if (!(e instanceof NoSpace || e instanceof ExtentNoSpace || e instanceof IndirectNoSpace)) throw e;
    // Roll back what this call mapped, and give back what it allocated but could not map.
    if (pending) {
      const left = pending.len - pending.mapped;
      if (left > 0) {
        vol.alloc.freeBlocks(h, pending.start + pending.mapped, left);
        inode.blocks512 = inode.blocks512 - left * (vol.blockSize / 512);
      }
      fresh.push({ lblk: pending.lblk, len: pending.len }); // its mapped part, and indirect blocks left empty
    }
    for (const f of fresh) unmapRange(vol, h, inode, f.lblk, f.len);
    return -Errno.ENOSPC;
  }
  return runs;
}

class NoSpace extends Error {}

/** Free the mappings of [lblk, lblk + count) (count may be Infinity). Returns blocks freed. */
export function unmapRange(vol: Volume, h: Handle, inode: Inode, lblk: number, count: number): number {
  const end = Math.min(lblk + count, maxFileBlocks(vol, inode) + 1);
  if (end <= lblk) return 0;
  if (!usesExtents(inode)) return indirectClear(vol, h, inode, lblk, end);
  const freed = removeExtents(vol, h, inode, lblk, end);
  // Directory and symlink blocks live in the block cache (possibly dirty): a freed one's pending write is void.
  const cached = !inode.isReg;
  let n = 0;
  for (const f of freed) {
    if (cached) for (let i = 0; i < f.length; i++) h.forget(f.start + i);
    vol.alloc.freeBlocks(h, f.start, f.length);
    n += f.length;
  }
  inode.blocks512 = inode.blocks512 - n * (vol.blockSize / 512);
  return n;
}

/** Mark the (unwritten) mapped blocks of [lblk, lblk + count) as written. */
export function markWritten(vol: Volume, h: Handle, inode: Inode, lblk: number, count: number): void {
  if (usesExtents(inode)) setExtentState(vol, h, inode, lblk, lblk + count, false);
}

/** Mark mapped blocks of a range unwritten (ZERO_RANGE on already allocated blocks). */
export function markUnwritten(vol: Volume, h: Handle, inode: Inode, lblk: number, count: number): void {
  if (usesExtents(inode)) setExtentState(vol, h, inode, lblk, lblk + count, true);
}
