// Inline directories, write side: Documentation/filesystems/ext4/inlinedata.rst;
// the kernel's fs/ext4/inline.c (ext4_try_add_inline_entry,
// ext4_add_dirent_to_inline, ext4_delete_inline_entry,
// ext4_convert_inline_data_nolock, ext4_init_dirblock).
//
// An inline directory keeps its parent's inode number in the first 4 bytes of
// i_block, then records over the other 56 bytes; if the in-inode xattr
// "system.data" has a value, records continue over the whole value. Records never
// straddle the two areas. Entries are added and removed in place in either area.
//
// Decisions:
// - The system.data value is used when it already has room; it is never grown
//   (the kernel's ext4_update_inline_dir would): a directory whose areas are full
//   moves to a block instead, as ext4_convert_inline_data_nolock does — "." and
//   ".." become real entries, the inline records follow, INLINE_DATA is cleared,
//   the block map is set up (an extent root where the filesystem has extents)
//   and system.data is dropped from the in-inode xattrs.
// - Editing the value in place keeps its size, so the xattr region is not
//   re-encoded; a non-zero e_hash is refreshed.
// - Inline directories are never moved back into the inode.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { corrupt } from './errors.js';
import { I_BLOCK_OFFSET, type Inode } from './inode.js';
import { GOOD_OLD_INODE_SIZE, InodeFlags } from './layout/inode.js';
import { EXT4_XATTR_MAGIC, XATTR_E_NAME_OFFSET, XATTR_IBODY_HEADER_SIZE, xattrEntryLen } from './layout/xattr.js';
import { FT } from './layout/dirent.js';
import { xattrEntryHash } from './xattr-codec.js';
import { dirRecLen } from './dir.js';
import { inlineBytes, INLINE_IBLOCK_SIZE } from './inline.js';
import { allocateRange, initBlockMap } from './bmap-write.js';
import { dropInlineDataXattr } from './inline-write.js';
import {
  deleteAt, findSlot, forEachRecord, hasFileType, initDirTail, insertAt, nameAt, recLenToDisk, setLeafChecksum,
  tailSize, writeEntryFields,
} from './dir-write.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

/** inlineAddEntry's answer when the directory moved to a block: add there. */
export const INLINE_CONVERTED = 1;

/** EXT4_INLINE_DOTDOT_SIZE: the parent's inode number at the start of i_block. */
const DOTDOT_SIZE = 4;
const SYSTEM_INDEX = 7;
const DATA_NAME = new Uint8Array([0x64, 0x61, 0x74, 0x61]); // "data"

interface DataXattr {
  /** Offset of the ext4_xattr_entry in inode.bytes. */
  entry: number;
  /** Offset of the value in inode.bytes. */
  value: number;
  size: number;
}

/** Find the system.data entry of the in-inode xattr area (offsets into inode.bytes). */
function findDataXattr(vol: Volume, dir: Inode): DataXattr | null {
  const inodeSize = vol.geo.inodeSize;
  if (inodeSize <= GOOD_OLD_INODE_SIZE) return null;
  const start = GOOD_OLD_INODE_SIZE + dir.extraIsize;
  const b = dir.bytes;
  const dv = viewOf(b);
  if (start + XATTR_IBODY_HEADER_SIZE + 4 > inodeSize || dv.getUint32(start, true) !== EXT4_XATTR_MAGIC) return null;
  const first = start + XATTR_IBODY_HEADER_SIZE;
  const ctx = { ino: dir.ino };
  for (let p = first; ;) {
    if (p + 4 > inodeSize) corrupt('xattr', 'in-inode entry table runs past the inode', ctx);
    if (dv.getUint32(p, true) === 0) return null;
    const nameLen = b[p]!;
    if (p + xattrEntryLen(nameLen) > inodeSize) corrupt('xattr', 'in-inode entry runs past the inode', ctx);
    if (b[p + 1] === SYSTEM_INDEX && nameLen === DATA_NAME.length && nameAt4(b, p + XATTR_E_NAME_OFFSET)) {
      if (dv.getUint32(p + 4, true) !== 0) corrupt('inline-data', 'system.data stored outside the inode', ctx);
      const size = dv.getUint32(p + 8, true);
      const value = first + dv.getUint16(p + 2, true);
      if (size > 0 && (value < first || value + size > inodeSize)) corrupt('inline-data', 'system.data value outside the inode', ctx);
      return { entry: p, value, size };
    }
    p += xattrEntryLen(nameLen);
  }
}

function nameAt4(b: Uint8Array, off: number): boolean {
  return b[off] === DATA_NAME[0] && b[off + 1] === DATA_NAME[1] && b[off + 2] === DATA_NAME[2] && b[off + 3] === DATA_NAME[3];
}

/** The record areas, as [start, end) offsets into inode.bytes. */
function areas(vol: Volume, dir: Inode): { ranges: [number, number][]; data: DataXattr | null } {
  const ranges: [number, number][] = [[I_BLOCK_OFFSET + DOTDOT_SIZE, I_BLOCK_OFFSET + INLINE_IBLOCK_SIZE]];
  const data = findDataXattr(vol, dir);
  if (data && data.size > 0) ranges.push([data.value, data.value + data.size]);
  return { ranges, data };
}

/** After editing the system.data value in place: a non-zero e_hash must match it again. */
function refreshDataHash(dir: Inode, data: DataXattr | null, changed: number): void {
  if (!data || changed < data.value || changed >= data.value + data.size) return;
  const dv = viewOf(dir.bytes);
  if (dv.getUint32(data.entry + 12, true) === 0) return;
  dv.setUint32(data.entry + 12, xattrEntryHash(DATA_NAME, dir.bytes.subarray(data.value, data.value + data.size)), true);
}

interface InlineHit {
  off: number;
  prev: number;
}

function findInline(vol: Volume, dir: Inode, ranges: [number, number][], name: Uint8Array): InlineHit | null {
  for (const [start, end] of ranges) {
    let prev = -1;
    let hit: InlineHit | null = null;
    forEachRecord(vol, dir, dir.bytes, start, end, undefined, (off, ino, _recLen, nameLen) => {
      if (ino !== 0 && nameAt(dir.bytes, off, nameLen, name)) { hit = { off, prev }; return false; }
      prev = off;
      return true;
    });
    if (hit) return hit;
  }
  return null;
}

/** Add an entry in place: 0, or INLINE_CONVERTED when the directory moved to a block (add it there), or -errno. */
export function inlineAddEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, ino: number, fileType: number): number {
  const need = dirRecLen(name.length);
  const { ranges, data } = areas(vol, dir);
  for (const [start, end] of ranges) {
    const slot = findSlot(vol, dir, dir.bytes, start, end, need);
    if (slot < 0) continue;
    const at = insertAt(vol, dir.bytes, slot, name, ino, fileType);
    refreshDataHash(dir, data, at);
    vol.writeInode(h, dir);
    return 0;
  }
  const r = convertInlineDir(vol, h, dir);
  return r < 0 ? r : INLINE_CONVERTED;
}

export function inlineRemoveEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array): number {
  const { ranges, data } = areas(vol, dir);
  const hit = findInline(vol, dir, ranges, name);
  if (!hit) return -Errno.ENOENT;
  const old = viewOf(dir.bytes).getUint32(hit.off, true);
  deleteAt(vol, dir.bytes, hit.off, hit.prev);
  refreshDataHash(dir, data, hit.off);
  vol.writeInode(h, dir);
  return old;
}

export function inlineReplaceEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, newIno: number, fileType: number): number {
  const { ranges, data } = areas(vol, dir);
  const hit = findInline(vol, dir, ranges, name);
  if (!hit) return -Errno.ENOENT;
  const dv = viewOf(dir.bytes);
  const old = dv.getUint32(hit.off, true);
  dv.setUint32(hit.off, newIno, true);
  if (hasFileType(vol)) dir.bytes[hit.off + 7] = fileType;
  refreshDataHash(dir, data, hit.off);
  vol.writeInode(h, dir);
  return old;
}

export function inlineSetParent(vol: Volume, h: Handle, dir: Inode, parentIno: number): number {
  dir.setIBlockWord(0, parentIno);
  vol.writeInode(h, dir);
  return 0;
}

export function inlineIsEmpty(vol: Volume, dir: Inode): boolean {
  const { ranges } = areas(vol, dir);
  for (const [start, end] of ranges) {
    const ok = forEachRecord(vol, dir, dir.bytes, start, end, undefined, (_off, ino) => ino === 0);
    if (!ok) return false;
  }
  return true;
}

/**
 * ext4_convert_inline_data_nolock for a directory: one block with "." and "..",
 * then the inline records, the last one stretched to the end of the records.
 * 0 or -ENOSPC (the inode is left as it was).
 */
export function convertInlineDir(vol: Volume, h: Handle, dir: Inode): number {
  const bs = vol.blockSize;
  const inline = inlineBytes(vol, dir);
  const parent = viewOf(inline).getUint32(0, true);
  // Check every record before touching anything (ext4_check_all_de).
  const iEnd = Math.min(INLINE_IBLOCK_SIZE, inline.length);
  forEachRecord(vol, dir, inline, DOTDOT_SIZE, iEnd, undefined, () => true);
  if (inline.length > INLINE_IBLOCK_SIZE) forEachRecord(vol, dir, inline, INLINE_IBLOCK_SIZE, inline.length, undefined, () => true);
  const records = inline.subarray(DOTDOT_SIZE);
  if (24 + records.length > bs - tailSize(vol)) corrupt('inline-data', `inline directory of ${inline.length} bytes does not fit a block`, { ino: dir.ino });

  const saved = dir.bytes.slice();
  dropInlineDataXattr(vol, dir);
  dir.flags = (dir.flags & ~InodeFlags.INLINE_DATA) >>> 0;
  initBlockMap(vol, dir);
  dir.size = 0;
  const runs = allocateRange(vol, h, dir, 0, 1);
  if (typeof runs === 'number') {
    dir.bytes.set(saved);
    return runs;
  }
  const run = runs[0]!;
  const physical = run.physical + (0 - run.logical);
  const buf = h.getNew(physical);
  const dv = viewOf(buf);
  const ft = hasFileType(vol) ? FT.DIR : FT.UNKNOWN;
  writeEntryFields(vol, buf, 0, new Uint8Array([0x2e]), dir.ino, ft);
  dv.setUint16(4, 12, true);
  writeEntryFields(vol, buf, 12, new Uint8Array([0x2e, 0x2e]), parent, ft);
  dv.setUint16(16, 12, true);
  buf.set(records, 24);
  // ext4_update_final_de: the last record runs to the end of the records.
  let last = 24;
  forEachRecord(vol, dir, buf, 24, 24 + records.length, physical, (off) => { last = off; return true; });
  dv.setUint16(last + 4, recLenToDisk(bs - tailSize(vol) - last, bs), true);
  if (vol.hasMetadataCsum) initDirTail(buf, bs);
  setLeafChecksum(vol, dir, buf);
  dir.size = bs;
  vol.writeInode(h, dir);
  return 0;
}
