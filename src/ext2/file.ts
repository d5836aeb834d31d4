// File contents, read side: block maps (extents or indirect), inline data,
// holes and unwritten extents read as zeros; symlink targets (fast, slow, inline).
// Documentation/filesystems/ext4/ifork.rst, inlinedata.rst.
import { Errno } from '../util/errno.js';
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { InodeFlags } from './layout/inode.js';
import { extentRunAt, walkExtents, type Run, type ExtentNode } from './extents.js';
import { indirectRunAt, walkIndirect } from './indirect.js';
import { inlineBytes } from './inline.js';
import type { Volume } from './volume.js';

export type { Run } from './extents.js';

export function usesExtents(inode: Inode): boolean {
  return inode.hasFlag(InodeFlags.EXTENTS);
}

export function isInline(inode: Inode): boolean {
  return inode.hasFlag(InodeFlags.INLINE_DATA);
}

/** The run (mapped or hole) containing logical block `lblk`. */
export function runAt(vol: Volume, inode: Inode, lblk: number): Run {
  return usesExtents(inode) ? extentRunAt(vol, inode, lblk) : indirectRunAt(vol, inode, lblk);
}

/** Physical block of logical block `lblk`, or 0 for a hole (unwritten counts as mapped). */
export function mapBlock(vol: Volume, inode: Inode, lblk: number): number {
  return runAt(vol, inode, lblk).physical;
}

/** Every mapped run in logical order (and the tree/indirect blocks through onMeta). */
export function walkRuns(vol: Volume, inode: Inode, onRun: (r: Run) => void, onMeta?: (block: number, depthOrLevel: number) => void): void {
  if (isInline(inode)) return;
  if (usesExtents(inode)) {
    walkExtents(vol, inode, onRun, onMeta ? (n: ExtentNode) => { if (n.block) onMeta(n.block, n.depth); } : undefined);
  } else {
    walkIndirect(vol, inode, onRun, onMeta);
  }
}

/**
 * Read from `pos` into `dst` (up to dst.length bytes, stopping at i_size).
 * Returns the number of bytes read.
 */
export function readFileRange(vol: Volume, inode: Inode, pos: number, dst: Uint8Array): number {
  const size = inode.size;
  if (pos >= size) return 0;
  const want = Math.min(dst.length, size - pos);
  if (isInline(inode)) {
    const data = inlineBytes(vol, inode);
    const avail = Math.max(0, Math.min(want, data.length - pos));
    if (avail > 0) dst.set(data.subarray(pos, pos + avail));
    dst.fill(0, Math.max(avail, 0), want); // past the inline bytes reads as zeros
    return want;
  }
  const bs = vol.blockSize;
  let done = 0;
  while (done < want) {
    const at = pos + done;
    const lblk = Math.floor(at / bs);
    const inBlock = at % bs;
    const run = runAt(vol, inode, lblk);
    const runBytes = run.length * bs - inBlock;
    const n = Math.min(want - done, runBytes);
    if (run.physical === 0 || run.unwritten) {
      dst.fill(0, done, done + n);
    } else if (inBlock === 0 && n % bs === 0) {
      vol.cache.readRun(run.physical, n / bs, dst, done);
    } else {
      // Partial blocks at the edges: go through a block-aligned read of the covered blocks.
      const first = run.physical;
      const nblocks = Math.ceil((inBlock + n) / bs);
      const tmp = nblocks === 1 ? vol.cache.get(first) : (() => { const t = new Uint8Array(nblocks * bs); vol.cache.readRun(first, nblocks, t, 0); return t; })();
      dst.set(tmp.subarray(inBlock, inBlock + n), done);
    }
    done += n;
  }
  return done;
}

/** A symlink's target bytes. */
export function readLink(vol: Volume, inode: Inode): Uint8Array | number {
  if (!inode.isSymlink) return -Errno.EINVAL;
  const size = inode.size;
  if (size === 0) corrupt('symlink', 'empty symlink target', { ino: inode.ino });
  if (size > vol.blockSize && !isInline(inode)) corrupt('symlink', `target of ${size} bytes is longer than a block`, { ino: inode.ino });
  if (isInline(inode)) {
    const data = inlineBytes(vol, inode);
    if (size > data.length) corrupt('symlink', `inline target of ${size} bytes exceeds its ${data.length} inline bytes`, { ino: inode.ino });
    return data.slice(0, size);
  }
  if (isFastSymlink(vol, inode)) {
    if (size >= 60) corrupt('symlink', `fast symlink of ${size} bytes does not fit i_block`, { ino: inode.ino });
    return inode.iBlock.slice(0, size);
  }
  const out = new Uint8Array(size);
  readFileRange(vol, inode, 0, out);
  return out;
}

/** ext4_inode_is_fast_symlink: no data blocks besides an xattr block. */
export function isFastSymlink(vol: Volume, inode: Inode): boolean {
  if (inode.hasFlag(InodeFlags.EA_INODE)) return inode.size > 0 && inode.size < 60;
  if (isInline(inode)) return false;
  const eaBlocks = inode.fileAcl !== 0 ? vol.geo.clusterSize / 512 : 0;
  return inode.blocks512 - eaBlocks === 0;
}
