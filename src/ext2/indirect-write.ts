// Changing ext2/ext3 block maps: Documentation/filesystems/ext4/ifork.rst
// ("Direct/Indirect Block Addressing"). Indirect blocks are allocated zeroed on
// first use and freed when the last pointer in them goes, as the kernel's
// ext4_ind_truncate / ext4_ind_remove_space do.
import { viewOf } from '../util/struct.js';
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { indirectLimits, NDIR_BLOCKS } from './indirect.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

export class IndirectNoSpace extends Error {
  constructor() { super('no space for an indirect block'); }
}

function slotFor(vol: Volume, lblk: number): { slot: number; levels: number; rel: number } | null {
  const { single, double, triple } = indirectLimits(vol.blockSize);
  if (lblk < NDIR_BLOCKS) return { slot: lblk, levels: 0, rel: 0 };
  let rel = lblk - NDIR_BLOCKS;
  if (rel < single) return { slot: 12, levels: 1, rel };
  rel -= single;
  if (rel < double) return { slot: 13, levels: 2, rel };
  rel -= double;
  if (rel < triple) return { slot: 14, levels: 3, rel };
  return null;
}

/** Point logical block `lblk` at `pblk` (which the caller allocated). Returns false past the map's reach. */
export function indirectSet(vol: Volume, h: Handle, inode: Inode, lblk: number, pblk: number, goal: number): boolean {
  const s = slotFor(vol, lblk);
  if (s === null) return false;
  if (s.levels === 0) { inode.setIBlockWord(s.slot, pblk); return true; }
  const { apb } = indirectLimits(vol.blockSize);
  let ptr = inode.iBlockWord(s.slot);
  if (ptr === 0) {
    ptr = newIndirect(vol, h, inode, goal);
    inode.setIBlockWord(s.slot, ptr);
  }
  let per = apb ** s.levels;
  let rel = s.rel;
  for (let level = s.levels; level >= 1; level--) {
    if (!vol.validBlock(ptr)) corrupt('indirect', `indirect block ${ptr} outside the volume`, { ino: inode.ino });
    per /= apb;
    const i = Math.floor(rel / per);
    rel %= per;
    const buf = h.getWrite(ptr);
    const dv = viewOf(buf);
    if (level === 1) {
      dv.setUint32(i * 4, pblk, true);
      h.dirty(ptr, buf);
      return true;
    }
    let next = dv.getUint32(i * 4, true);
    if (next === 0) {
      next = newIndirect(vol, h, inode, goal);
      const again = h.getWrite(ptr); // newIndirect may have evicted nothing pinned, but re-get for safety
      viewOf(again).setUint32(i * 4, next, true);
      h.dirty(ptr, again);
    }
    ptr = next;
  }
  return true;
}

function newIndirect(vol: Volume, h: Handle, inode: Inode, goal: number): number {
  const r = vol.alloc.allocBlocks(h, goal, 1);
  if (typeof r === 'number') throw new IndirectNoSpace();
  h.getNew(r.start);
  inode.blocks512 = inode.blocks512 + vol.blockSize / 512;
  return r.start;
}

/**
 * Clear the mappings of [from, end) and free their data blocks; indirect blocks
 * left empty are freed too. Returns the number of data blocks freed.
 */
export function indirectClear(vol: Volume, h: Handle, inode: Inode, from: number, end: number): number {
  const { apb, single, double, triple } = indirectLimits(vol.blockSize);
  let freedData = 0;
  const bs512 = vol.blockSize / 512;
  const freeData = (p: number) => {
    if (!vol.validBlock(p)) corrupt('indirect', `block map points at ${p}, outside the volume`, { ino: inode.ino });
    if (!inode.isReg) h.forget(p); // a directory's block may be dirty in the cache: its pending write is void
    vol.alloc.freeBlocks(h, p, 1);
    inode.blocks512 = inode.blocks512 - bs512;
    freedData++;
  };
  for (let i = Math.max(0, from); i < Math.min(NDIR_BLOCKS, end); i++) {
    const p = inode.iBlockWord(i);
    if (p !== 0) { freeData(p); inode.setIBlockWord(i, 0); }
  }
  // Returns true if the indirect block `ptr` (covering [base, base + per*apb)) is now empty and was freed.
  const clear = (ptr: number, level: number, base: number): boolean => {
    if (!vol.validBlock(ptr)) corrupt('indirect', `indirect block ${ptr} outside the volume`, { ino: inode.ino });
    const per = apb ** (level - 1);
    const buf = h.getWrite(ptr);
    const dv = viewOf(buf);
    let changed = false;
    for (let i = 0; i < apb; i++) {
      const lo = base + i * per;
      const hi = lo + per;
      if (hi <= from || lo >= end) continue;
      const p = dv.getUint32(i * 4, true);
      if (p === 0) continue;
      if (level === 1) { freeData(p); dv.setUint32(i * 4, 0, true); changed = true; }
      else if (clear(p, level - 1, lo)) { dv.setUint32(i * 4, 0, true); changed = true; }
    }
    // Re-read: nested calls may have gone through the cache, but the pinned buffer is stable once dirty.
    let empty = true;
    for (let i = 0; i < apb; i++) if (dv.getUint32(i * 4, true) !== 0) { empty = false; break; }
    if (empty) {
      h.forget(ptr);
      vol.alloc.freeBlocks(h, ptr, 1);
      inode.blocks512 = inode.blocks512 - bs512;
      return true;
    }
    if (changed) h.dirty(ptr, buf);
    return false;
  };
  const roots: [number, number, number, number][] = [
    [12, 1, NDIR_BLOCKS, single],
    [13, 2, NDIR_BLOCKS + single, double],
    [14, 3, NDIR_BLOCKS + single + double, triple],
  ];
  for (const [slot, level, base, span] of roots) {
    if (base + span <= from || base >= end) continue;
    const p = inode.iBlockWord(slot);
    if (p === 0) continue;
    if (clear(p, level, base)) inode.setIBlockWord(slot, 0);
  }
  return freedData;
}
