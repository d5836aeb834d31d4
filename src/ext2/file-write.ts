// File contents, write side: write, truncate, fallocate, SEEK_DATA/SEEK_HOLE.
// Documentation/filesystems/ext4/ifork.rst, inlinedata.rst; semantics of
// write(2), truncate(2), fallocate(2) (KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE) and
// lseek(2) as the kernel's ext4 gives them.
import { Errno } from '../util/errno.js';
import type { Inode } from './inode.js';
import { InodeFlags } from './layout/inode.js';
import { allocateRange, initBlockMap, markUnwritten, markWritten, maxFileBlocks, unmapRange } from './bmap-write.js';
import { ExtentNoSpace } from './extent-write.js';
import { IndirectNoSpace } from './indirect-write.js';
import { isInline, readFileRange, runAt, usesExtents } from './file.js';
import { inlineBytes, INLINE_IBLOCK_SIZE } from './inline.js';
import { dropInlineDataXattr } from './inline-write.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/** A scratch buffer reused across writes (the hot path allocates nothing per request). */
let scratch = new Uint8Array(64 * 1024);
function scratchOf(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

function noSpace(e: unknown): boolean {
  return e instanceof ExtentNoSpace || e instanceof IndirectNoSpace;
}

/** Largest byte size the file's mapping allows. */
export function maxFileSize(vol: Volume, inode: Inode): number {
  return Math.min(Number.MAX_SAFE_INTEGER, maxFileBlocks(vol, inode) * vol.blockSize);
}

/** Move inline data out to a block map (ext4_convert_inline_data). */
export function convertInlineToBlocks(vol: Volume, h: Handle, inode: Inode): number {
  const data = inlineBytes(vol, inode).subarray(0, Math.min(inode.size, inlineBytes(vol, inode).length));
  const keep = data.slice();
  dropInlineDataXattr(vol, inode);
  inode.flags = (inode.flags & ~InodeFlags.INLINE_DATA) >>> 0;
  initBlockMap(vol, inode);
  const size = inode.size;
  inode.size = 0;
  if (keep.length > 0) {
    const r = writeBlocks(vol, h, inode, 0, keep);
    if (r < 0) return r;
  }
  inode.size = size;
  return 0;
}

/**
 * Write `data` at `pos`. Returns bytes written or -errno. The caller sets
 * times and calls vol.writeInode (or uses the wrapper in fs.ts).
 */
export function writeFile(vol: Volume, h: Handle, inode: Inode, pos: number, data: Uint8Array): number {
  if (data.length === 0) return 0;
  const end = pos + data.length;
  if (end > maxFileSize(vol, inode)) return -Errno.EFBIG;
  if (isInline(inode)) {
    if (end <= INLINE_IBLOCK_SIZE && inode.size <= INLINE_IBLOCK_SIZE) {
      const ib = inode.iBlock;
      if (pos > inode.size) ib.fill(0, inode.size, pos);
      ib.set(data, pos);
      if (end > inode.size) inode.size = end;
      return data.length;
    }
    const c = convertInlineToBlocks(vol, h, inode);
    if (c < 0) return c;
  }
  const r = writeBlocks(vol, h, inode, pos, data);
  if (r < 0) return r;
  if (end > inode.size) inode.size = end;
  return data.length;
}

function writeBlocks(vol: Volume, h: Handle, inode: Inode, pos: number, data: Uint8Array): number {
  const bs = vol.blockSize;
  const first = Math.floor(pos / bs);
  const last = Math.floor((pos + data.length - 1) / bs);
  let runs;
  try {
    runs = allocateRange(vol, h, inode, first, last - first + 1);
  } catch (e) {
    if (noSpace(e)) return -Errno.ENOSPC;
    throw e;
  }
  if (typeof runs === 'number') return runs;
  for (const run of runs) {
    const runStart = run.logical * bs;
    const runEnd = runStart + run.length * bs;
    const s = Math.max(pos, runStart);
    const e = Math.min(pos + data.length, runEnd);
    const headPad = s - runStart; // bytes of the run before the data
    const tailPad = runEnd - e;
    const needsOld = !run.fresh && !run.unwritten;
    if (headPad === 0 && tailPad === 0) {
      vol.cache.writeRun(run.physical, data.subarray(s - pos, e - pos));
    } else {
      // Only the first and last blocks of the run can be partial: assemble them.
      const firstBlk = Math.floor(headPad / bs);
      const lastBlk = run.length - 1 - Math.floor(tailPad / bs);
      const n = (lastBlk - firstBlk + 1) * bs;
      const buf = scratchOf(n).subarray(0, n);
      const off0 = headPad - firstBlk * bs;
      if (off0 > 0 || (e - s) + off0 < n) {
        if (needsOld) {
          vol.cache.get(run.physical + firstBlk); // warm the cache: readRun reads through it
          vol.cache.readRun(run.physical + firstBlk, 1, buf, 0);
          if (lastBlk !== firstBlk) vol.cache.readRun(run.physical + lastBlk, 1, buf, n - bs);
        } else {
          buf.fill(0, 0, bs);
          buf.fill(0, n - bs, n);
        }
      }
      buf.set(data.subarray(s - pos, e - pos), off0);
      vol.cache.writeRun(run.physical + firstBlk, buf);
    }
    if (run.unwritten) {
      // Blocks of the run not covered by the data stay unwritten; cover whole blocks written.
      const wFirst = Math.floor(s / bs);
      const wLast = Math.floor((e - 1) / bs);
      try {
        markWritten(vol, h, inode, wFirst, wLast - wFirst + 1);
      } catch (err) {
        if (noSpace(err)) return -Errno.ENOSPC;
        throw err;
      }
      // Zero the parts of those blocks outside the data (they were unwritten: zeros).
      // (Done above: unwritten runs were assembled with zero padding.)
    }
  }
  return data.length;
}

/** Zero bytes [from, to) inside one block of the file, on disk, if that block holds data. */
function zeroPartial(vol: Volume, inode: Inode, from: number, to: number): void {
  if (from >= to) return;
  const bs = vol.blockSize;
  const lblk = Math.floor(from / bs);
  const run = runAt(vol, inode, lblk);
  if (run.physical === 0 || run.unwritten) return;
  const blk = new Uint8Array(bs);
  vol.cache.readRun(run.physical, 1, blk, 0);
  blk.fill(0, from - lblk * bs, to - lblk * bs);
  vol.cache.writeRun(run.physical, blk);
}

/** truncate(2): set the size, freeing blocks past the end and zeroing the tail of the last block. */
export function truncateFile(vol: Volume, h: Handle, inode: Inode, size: number): number {
  if (size > maxFileSize(vol, inode)) return -Errno.EFBIG;
  const bs = vol.blockSize;
  const old = inode.size;
  if (isInline(inode)) {
    if (size <= INLINE_IBLOCK_SIZE) {
      const ib = inode.iBlock;
      if (size < old) ib.fill(0, size, Math.min(old, INLINE_IBLOCK_SIZE));
      inode.size = size;
      return 0;
    }
    const c = convertInlineToBlocks(vol, h, inode);
    if (c < 0) return c;
  }
  if (size < old || !inode.isReg) {
    if (size % bs !== 0) zeroPartial(vol, inode, size, Math.min(Math.ceil(size / bs) * bs, Math.max(old, size)));
    try {
      unmapRange(vol, h, inode, Math.ceil(size / bs), Infinity);
    } catch (e) {
      if (noSpace(e)) return -Errno.ENOSPC;
      throw e;
    }
  } else if (size > old && old % bs !== 0) {
    // Growing: bytes past the old end in its last block must read as zeros.
    zeroPartial(vol, inode, old, Math.min(Math.ceil(old / bs) * bs, size));
  }
  inode.size = size;
  return 0;
}

/** fallocate(2). */
export function fallocateFile(vol: Volume, h: Handle, inode: Inode, mode: number, offset: number, length: number): number {
  if (offset < 0 || length <= 0) return -Errno.EINVAL;
  const known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
  if (mode & ~known) return -Errno.EOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) return -Errno.EOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && (mode & FALLOC_FL_ZERO_RANGE)) return -Errno.EINVAL;
  const end = offset + length;
  if (end > maxFileSize(vol, inode)) return -Errno.EFBIG;
  if (isInline(inode)) {
    const c = convertInlineToBlocks(vol, h, inode);
    if (c < 0) return c;
  }
  const bs = vol.blockSize;
  const size = inode.size;
  try {
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (offset >= size) return 0;
      const e = Math.min(end, Math.max(size, end));
      const firstFull = Math.ceil(offset / bs);
      const lastFull = Math.floor(e / bs); // exclusive
      if (firstFull > lastFull) { zeroPartial(vol, inode, offset, e); return 0; }
      zeroPartial(vol, inode, offset, firstFull * bs);
      zeroPartial(vol, inode, lastFull * bs, e);
      if (lastFull > firstFull) unmapRange(vol, h, inode, firstFull, lastFull - firstFull);
      return 0;
    }
    if (!usesExtents(inode)) return -Errno.EOPNOTSUPP;
    if (mode & FALLOC_FL_ZERO_RANGE) {
      const firstFull = Math.ceil(offset / bs);
      const lastFull = Math.floor(end / bs);
      if (firstFull > lastFull) zeroPartial(vol, inode, offset, end);
      else {
        zeroPartial(vol, inode, offset, firstFull * bs);
        zeroPartial(vol, inode, lastFull * bs, end);
        if (lastFull > firstFull) markUnwritten(vol, h, inode, firstFull, lastFull - firstFull);
      }
    }
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    const r = allocateRange(vol, h, inode, first, last - first + 1, { unwritten: true });
    if (typeof r === 'number') return r;
    // Partial edge blocks newly allocated as unwritten read as zeros: nothing to write.
  } catch (e) {
    if (noSpace(e)) return -Errno.ENOSPC;
    throw e;
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size) inode.size = end;
  return 0;
}

/** lseek SEEK_DATA / SEEK_HOLE (unwritten extents count as holes). */
export function seekFile(vol: Volume, inode: Inode, offset: number, whence: number): number {
  const size = inode.size;
  if (offset < 0) return -Errno.EINVAL;
  if (offset >= size) return -Errno.ENXIO;
  if (isInline(inode)) return whence === SEEK_DATA ? offset : size;
  const bs = vol.blockSize;
  let pos = offset;
  while (pos < size) {
    const lblk = Math.floor(pos / bs);
    const run = runAt(vol, inode, lblk);
    const isData = run.physical !== 0 && !run.unwritten;
    if (whence === SEEK_DATA && isData) return pos;
    if (whence === SEEK_HOLE && !isData) return pos;
    pos = Math.min(size, (run.logical + Math.max(1, Math.min(run.length, 0x1_0000_0000))) * bs);
  }
  return whence === SEEK_DATA ? -Errno.ENXIO : size;
}

/** Read helper re-exported for symmetry. */
export { readFileRange };
