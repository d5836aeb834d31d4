// Hash tree directory lookup: Documentation/filesystems/ext4/directory.rst
// ("Hash Tree Directories"); the kernel's dx_probe / ext4_dx_find_entry /
// ext4_htree_next_block. Depth is bounded by indirect_levels (2, or 3 with
// large_dir), so a hostile index cannot loop.
import { viewOf } from '../util/struct.js';
import { CorruptionError, corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { INCOMPAT } from './layout/features.js';
import { DX_MAX_LEVELS_LARGEDIR, DX_MAX_LEVELS_LEGACY, DX_ROOT_INFO_OFFSET } from './layout/dirent.js';
import { EXT2_FLAGS_UNSIGNED_HASH } from './layout/superblock.js';
import { dxNodeChecksum } from './checksums.js';
import { DX_HASH_SIPHASH, DX_HASH_TEA, dirHash } from './dirhash.js';
import { runAt } from './file.js';
import { equalBytes, recLenFromDisk, scanRecords, verifyDirBlock } from './dir.js';
import type { Volume } from './volume.js';
import { Errno } from '../util/errno.js';

interface Frame {
  block: Uint8Array;
  /** Byte offset of the dx_countlimit. */
  entries: number;
  count: number;
  /** Index of the entry followed. */
  at: number;
}

export interface DxRoot {
  hashVersion: number;
  indirectLevels: number;
  countOffset: number;
  limit: number;
  count: number;
}

function dirBlock(vol: Volume, dir: Inode, lblk: number): { buf: Uint8Array; physical: number } {
  const nblocks = Math.floor(dir.size / vol.blockSize);
  if (lblk >= nblocks) corrupt('htree', `index points at directory block ${lblk} beyond the directory's ${nblocks} blocks`, { ino: dir.ino });
  const run = runAt(vol, dir, lblk);
  if (run.physical === 0) corrupt('htree', `index points at directory block ${lblk}, which is a hole`, { ino: dir.ino });
  return { buf: vol.readMetaBlock(run.physical, 'htree', { ino: dir.ino }), physical: run.physical };
}

/** Parse and check the dx root (block 0). */
export function readDxRoot(vol: Volume, dir: Inode, block: Uint8Array, physical: number): DxRoot {
  const ctx = { ino: dir.ino, block: physical };
  const dv = viewOf(block);
  const bs = vol.blockSize;
  // Fake "." (rec_len 12) and ".." (rec_len bs - 12).
  if (recLenFromDisk(dv.getUint16(4, true), bs) !== 12 || block[6] !== 1 || block[8] !== 0x2e) corrupt('htree', 'root block lacks "."', ctx);
  if (block[12 + 6] !== 2 || block[12 + 8] !== 0x2e || block[12 + 9] !== 0x2e) corrupt('htree', 'root block lacks ".."', ctx);
  if (dv.getUint32(DX_ROOT_INFO_OFFSET, true) !== 0) corrupt('htree', 'dx_root reserved_zero is not zero', ctx);
  const hashVersion = block[DX_ROOT_INFO_OFFSET + 4]!;
  const infoLength = block[DX_ROOT_INFO_OFFSET + 5]!;
  const indirectLevels = block[DX_ROOT_INFO_OFFSET + 6]!;
  if (infoLength !== 8) corrupt('htree', `dx_root info_length ${infoLength}, want 8`, ctx);
  const maxLevels = vol.has('incompat', INCOMPAT.large_dir) ? DX_MAX_LEVELS_LARGEDIR : DX_MAX_LEVELS_LEGACY;
  if (indirectLevels >= maxLevels) corrupt('htree', `htree depth ${indirectLevels} exceeds the maximum ${maxLevels - 1}`, ctx);
  const countOffset = DX_ROOT_INFO_OFFSET + infoLength;
  const { limit, count } = checkCountLimit(vol, dir, block, countOffset, physical);
  return { hashVersion, indirectLevels, countOffset, limit, count };
}

function checkCountLimit(vol: Volume, dir: Inode, block: Uint8Array, countOffset: number, physical: number): { limit: number; count: number } {
  const ctx = { ino: dir.ino, block: physical };
  const dv = viewOf(block);
  const limit = dv.getUint16(countOffset, true);
  const count = dv.getUint16(countOffset + 2, true);
  const room = (vol.blockSize - countOffset - (vol.hasMetadataCsum ? 8 : 0)) / 8;
  if (limit !== Math.floor(room)) corrupt('htree', `dx limit ${limit}, expected ${Math.floor(room)}`, ctx);
  if (count === 0 || count > limit) corrupt('htree', `dx count ${count} out of range 1..${limit}`, ctx);
  if (vol.hasMetadataCsum) {
    const tail = countOffset + limit * 8;
    const stored = dv.getUint32(tail + 4, true);
    const want = dxNodeChecksum(vol.inodeSeed(dir), block, countOffset, count, tail);
    if (stored !== want) {
      vol.checksumFailure(new CorruptionError('checksum', `htree node checksum 0x${stored.toString(16)} != 0x${want.toString(16)}`, ctx));
    }
  }
  return { limit, count };
}

/** The effective hash version (unsigned variants per s_flags). Null if unsupported. */
export function effectiveHashVersion(vol: Volume, rootVersion: number): number | null {
  if (rootVersion >= DX_HASH_SIPHASH) return null;
  if (rootVersion <= DX_HASH_TEA && (vol.sb.s_flags & EXT2_FLAGS_UNSIGNED_HASH)) return rootVersion + 3;
  return rootVersion;
}

function entryHash(dv: DataView, entries: number, i: number): number {
  return i === 0 ? 0 : dv.getUint32(entries + i * 8, true);
}
function entryBlock(dv: DataView, entries: number, i: number): number {
  // The top 4 bits are reserved (dx_get_block masks them, as e2fsprogs does).
  return dv.getUint32(entries + i * 8 + 4, true) & 0x0fffffff;
}

/** Last entry whose hash <= h (entry 0 covers from hash 0). */
function search(dv: DataView, entries: number, count: number, h: number): number {
  let lo = 1;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (dv.getUint32(entries + mid * 8, true) > h) hi = mid - 1; else lo = mid + 1;
  }
  return lo - 1;
}

/**
 * Look `name` up through the index. Returns the inode number, -ENOENT, or null
 * when the index cannot be used (unsupported hash) and the caller should scan.
 */
export function htreeLookup(vol: Volume, dir: Inode, name: Uint8Array): number | null {
  const root = dirBlock(vol, dir, 0);
  const info = readDxRoot(vol, dir, root.buf, root.physical);
  const version = effectiveHashVersion(vol, info.hashVersion);
  if (version === null) return null;
  const { hash } = dirHash(name, version, vol.hashSeed);
  const frames: Frame[] = [];
  let block = root.buf.slice();
  let entries = info.countOffset;
  let count = info.count;
  for (let level = 0; ; level++) {
    const dv = viewOf(block);
    const at = search(dv, entries, count, hash);
    frames.push({ block, entries, count, at });
    if (level === info.indirectLevels) break;
    const child = dirBlock(vol, dir, entryBlock(dv, entries, at));
    const cb = child.buf;
    if (viewOf(cb).getUint32(0, true) !== 0 || recLenFromDisk(viewOf(cb).getUint16(4, true), vol.blockSize) !== vol.blockSize) {
      corrupt('htree', 'index node is not an empty record covering the block', { ino: dir.ino, block: child.physical });
    }
    const cl = checkCountLimit(vol, dir, cb, 8, child.physical);
    block = cb.slice();
    entries = 8;
    count = cl.count;
  }
  // Search leaves; continue to the next leaf while its hash continues ours (collisions).
  for (let guard = 0; guard < 1 << 20; guard++) {
    const f = frames[frames.length - 1]!;
    const leafLblk = entryBlock(viewOf(f.block), f.entries, f.at);
    const leaf = dirBlock(vol, dir, leafLblk);
    verifyDirBlock(vol, dir, leaf.buf, leafLblk, leaf.physical);
    let found = -1;
    const end = vol.hasMetadataCsum ? vol.blockSize - 12 : vol.blockSize;
    scanRecords(vol, dir, leaf.buf, 0, end, 0, { block: leaf.physical }, (ino, n) => {
      if (equalBytes(n, name)) { found = ino; return false; }
      return true;
    });
    if (found > 0) return found;
    if (!nextLeaf(frames, hash)) return -Errno.ENOENT;
    // Re-read index nodes below the frame that moved.
    for (let i = 1; i < frames.length; i++) {
      if (frames[i]!.at !== -1) continue;
      const up = frames[i - 1]!;
      const child = dirBlock(vol, dir, entryBlock(viewOf(up.block), up.entries, up.at));
      const cl = checkCountLimit(vol, dir, child.buf, 8, child.physical);
      frames[i] = { block: child.buf.slice(), entries: 8, count: cl.count, at: 0 };
    }
  }
  return -Errno.ENOENT;
}

/** ext4_htree_next_block: advance to the next leaf if its hash continues `hash`. */
function nextLeaf(frames: Frame[], hash: number): boolean {
  let i = frames.length - 1;
  while (true) {
    const f = frames[i]!;
    if (f.at + 1 < f.count) { f.at++; break; }
    if (i === 0) return false;
    i--;
  }
  const f = frames[i]!;
  const bhash = entryHash(viewOf(f.block), f.entries, f.at);
  if (((bhash & ~1) >>> 0) !== ((hash & ~1) >>> 0)) return false;
  for (let j = i + 1; j < frames.length; j++) frames[j]!.at = -1;
  return true;
}
