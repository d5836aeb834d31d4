// Reading ext2/ext3 block maps: Documentation/filesystems/ext4/ifork.rst
// ("Direct/Indirect Block Addressing"). i_block[0..11] are direct, [12] single,
// [13] double, [14] triple indirect. The depth is fixed, so there are no loops;
// full walks are bounded by the volume's block count.
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import type { Run } from './extents.js';
import type { Volume } from './volume.js';
import { viewOf } from '../util/struct.js';

export const NDIR_BLOCKS = 12;

/** Logical blocks addressable through each level. */
export function indirectLimits(blockSize: number): { apb: number; single: number; double: number; triple: number } {
  const apb = blockSize / 4;
  return { apb, single: apb, double: apb * apb, triple: apb * apb * apb };
}

export function maxIndirectBlocks(blockSize: number): number {
  const l = indirectLimits(blockSize);
  return NDIR_BLOCKS + l.single + l.double + l.triple;
}

function iblock(inode: Inode, i: number): number {
  return inode.iBlockWord(i);
}

function readIndirect(vol: Volume, inode: Inode, nr: number): Uint8Array {
  return vol.readMetaBlock(nr, 'indirect', { ino: inode.ino });
}

function checkData(vol: Volume, inode: Inode, nr: number, where: number): void {
  if (!vol.validBlock(nr)) corrupt('indirect', `block map entry for logical block ${where} points at ${nr}, outside the volume`, { ino: inode.ino });
}

/** The run containing logical block `lblk` (mapped, or a hole). */
export function indirectRunAt(vol: Volume, inode: Inode, lblk: number): Run {
  const { apb, single, double, triple } = indirectLimits(vol.blockSize);
  const hole = (len: number): Run => ({ logical: lblk, physical: 0, length: Math.max(1, len), unwritten: false });
  if (lblk < NDIR_BLOCKS) {
    const p = iblock(inode, lblk);
    if (p === 0) {
      let n = 1;
      while (lblk + n < NDIR_BLOCKS && iblock(inode, lblk + n) === 0) n++;
      return hole(n);
    }
    checkData(vol, inode, p, lblk);
    let n = 1;
    while (lblk + n < NDIR_BLOCKS && iblock(inode, lblk + n) === p + n) n++;
    return { logical: lblk, physical: p, length: n, unwritten: false };
  }
  let rel = lblk - NDIR_BLOCKS;
  let slot: number;
  let levels: number;
  let span: number;
  if (rel < single) { slot = 12; levels = 1; span = single; }
  else if ((rel -= single) < double) { slot = 13; levels = 2; span = double; }
  else if ((rel -= double) < triple) { slot = 14; levels = 3; span = triple; }
  else return hole(2 ** 32); // past the triple-indirect range nothing can be mapped
  let ptr = iblock(inode, slot);
  let per = span; // logical blocks covered by `ptr`
  for (let level = levels; level >= 1; level--) {
    if (ptr === 0) return hole(per - (rel % per));
    const buf = readIndirect(vol, inode, ptr);
    const dv = viewOf(buf);
    per = per / apb;
    const i = Math.floor(rel / per);
    rel = rel % per;
    ptr = dv.getUint32(i * 4, true);
    if (level === 1) {
      if (ptr === 0) {
        let n = 1;
        while (i + n < apb && dv.getUint32((i + n) * 4, true) === 0) n++;
        return hole(n);
      }
      checkData(vol, inode, ptr, lblk);
      let n = 1;
      while (i + n < apb && dv.getUint32((i + n) * 4, true) === ptr + n) n++;
      return { logical: lblk, physical: ptr, length: n, unwritten: false };
    }
  }
  return hole(1);
}

/** Visit every mapped run in logical order and each indirect block (metadata). */
export function walkIndirect(vol: Volume, inode: Inode, onRun: (r: Run) => void, onMeta?: (block: number, level: number) => void): void {
  const { apb, single, double } = indirectLimits(vol.blockSize);
  let budget = vol.geo.blocksCount;
  let cur: Run | null = null;
  const emit = (logical: number, physical: number) => {
    if (--budget < 0) corrupt('indirect', 'block map maps more blocks than the volume holds', { ino: inode.ino });
    checkData(vol, inode, physical, logical);
    if (cur && cur.logical + cur.length === logical && cur.physical + cur.length === physical) { cur.length++; return; }
    if (cur) onRun(cur);
    cur = { logical, physical, length: 1, unwritten: false };
  };
  for (let i = 0; i < NDIR_BLOCKS; i++) {
    const p = iblock(inode, i);
    if (p !== 0) emit(i, p);
  }
  const walk = (ptr: number, level: number, base: number): void => {
    if (--budget < 0) corrupt('indirect', 'block map has more blocks than the volume holds', { ino: inode.ino });
    onMeta?.(ptr, level);
    const buf = readIndirect(vol, inode, ptr).slice();
    const dv = viewOf(buf);
    const per = apb ** (level - 1);
    for (let i = 0; i < apb; i++) {
      const p = dv.getUint32(i * 4, true);
      if (p === 0) continue;
      if (level === 1) emit(base + i, p);
      else walk(p, level - 1, base + i * per);
    }
  };
  const roots: [number, number, number][] = [[12, 1, NDIR_BLOCKS], [13, 2, NDIR_BLOCKS + single], [14, 3, NDIR_BLOCKS + single + double]];
  for (const [slot, level, base] of roots) {
    const p = iblock(inode, slot);
    if (p === 0) continue;
    if (!vol.validBlock(p)) corrupt('indirect', `i_block[${slot}] = ${p} is outside the volume`, { ino: inode.ino });
    walk(p, level, base);
  }
  if (cur) onRun(cur);
}
