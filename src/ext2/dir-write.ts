// Directories, write side: Documentation/filesystems/ext4/directory.rst.
// The shapes follow the kernel's fs/ext4/namei.c: add_dirent_to_buf /
// ext4_find_dest_de / ext4_insert_dentry (reuse a deleted slot or split a live
// record's slack), ext4_append (a new block at i_size), ext4_generic_delete_entry
// (fold the record into its predecessor, or zero its inode when first),
// ext4_init_dirblock ("." and ".." of a new directory).
//
// Everything runs inside the caller's handle; expected outcomes are returned as
// negative errnos, damage is thrown (CorruptionError). Directory timestamps are
// the caller's (the namespace operation knows which ones change); this module
// writes the directory inode only when its size, flags or block map change.
//
// Decisions a newcomer would ask about:
// - Duplicate names are the caller's check (lookup first): addEntry does not
//   scan for them. "." and ".." always exist: adding them gives -EEXIST,
//   removing or replacing them -EINVAL (setDotDot changes "..").
// - A single-block linear directory that overflows becomes an htree when the
//   filesystem has dir_index (make_indexed_dir); larger linear directories stay
//   linear, as in the kernel. See htree-write.ts.
// - New directories are block directories even on inline_data filesystems
//   (initDirBlock); existing inline directories are edited in place and moved to
//   a block when full (inline-dir-write.ts).
// - Holes inside a linear directory are filled with a fresh empty block when an
//   entry needs room, as ext4_add_entry does; unwritten extents are skipped.
// - The record helpers used by htree-write.ts and inline-dir-write.ts live here
//   (those modules import them back; only functions cross the cycle).
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { InodeFlags } from './layout/inode.js';
import { COMPAT, INCOMPAT } from './layout/features.js';
import { DIR_TAIL_FT, DIR_TAIL_SIZE, DX_ROOT_INFO_OFFSET, EXT2_NAME_LEN, FT } from './layout/dirent.js';
import { dirBlockChecksum } from './checksums.js';
import { dirRecLen, forEachRecord, hasDirTail, isIndexed, readDir, recLenFromDisk, verifyDirBlock } from './dir.js';
import { isInline, runAt } from './file.js';
import { readDxRoot } from './htree.js';
import { allocateRange } from './bmap-write.js';
import { dxAddEntry, dxFindEntry, makeIndexedDir, setDxChecksum } from './htree-write.js';
import {
  INLINE_CONVERTED, inlineAddEntry, inlineIsEmpty, inlineRemoveEntry, inlineReplaceEntry, inlineSetParent,
} from './inline-dir-write.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

// ---- record helpers (shared with htree-write.ts and inline-dir-write.ts) -------

/** rec_len bytes → the stored u16 (64 KiB blocks store a whole-block record as 65535). */
export function recLenToDisk(len: number, blockSize: number): number {
  if (len < 65536) return len;
  if (len === blockSize) return 65535;
  return (len & 65532) | ((len >> 16) & 3);
}

export function hasFileType(vol: Volume): boolean {
  return vol.has('incompat', INCOMPAT.filetype);
}

/** Bytes of checksum tail a leaf block of this volume carries (0 or 12). */
export function tailSize(vol: Volume): number {
  return vol.hasMetadataCsum ? DIR_TAIL_SIZE : 0;
}

/** Where the records of a leaf block end (before its checksum tail, if it has one). */
export function leafEnd(vol: Volume, block: Uint8Array): number {
  const bs = vol.blockSize;
  return vol.hasMetadataCsum && hasDirTail(block, bs) ? bs - DIR_TAIL_SIZE : bs;
}

/** The cached block, pinned dirty in `h` before anything changes it. */
export function writable(h: Handle, block: number): Uint8Array {
  const b = h.getWrite(block);
  h.dirty(block, b);
  return b;
}

// Record walking and validation live in dir.ts (forEachRecord), shared with the reader.
export { forEachRecord, type RecordVisitor } from './dir.js';

export function nameAt(buf: Uint8Array, off: number, nameLen: number, name: Uint8Array): boolean {
  if (nameLen !== name.length) return false;
  const p = off + 8;
  for (let i = 0; i < nameLen; i++) if (buf[p + i] !== name[i]) return false;
  return true;
}

/** ext4_find_dest_de: the first record in buf[start, end) with `need` bytes to spare, or -1. */
export function findSlot(vol: Volume, dir: Inode, buf: Uint8Array, start: number, end: number, need: number, block?: number): number {
  let slot = -1;
  forEachRecord(vol, dir, buf, start, end, block, (off, ino, recLen, nameLen) => {
    const free = ino !== 0 ? recLen - dirRecLen(nameLen) : recLen;
    if (free >= need) { slot = off; return false; }
    return true;
  });
  return slot;
}

/** Write the entry fields (inode, name_len, file_type, name) of the record at `off`; rec_len is untouched. */
export function writeEntryFields(vol: Volume, buf: Uint8Array, off: number, name: Uint8Array, ino: number, fileType: number): void {
  const dv = viewOf(buf);
  dv.setUint32(off, ino, true);
  if (hasFileType(vol)) {
    buf[off + 6] = name.length;
    buf[off + 7] = fileType;
  } else {
    dv.setUint16(off + 6, name.length, true);
  }
  buf.set(name, off + 8);
  buf.fill(0, off + 8 + name.length, off + dirRecLen(name.length)); // padding
}

/**
 * ext4_insert_dentry: put the entry into the slot found by findSlot, splitting
 * a live record's slack off into a new record. Returns the entry's offset.
 */
export function insertAt(vol: Volume, buf: Uint8Array, off: number, name: Uint8Array, ino: number, fileType: number): number {
  const dv = viewOf(buf);
  const bs = vol.blockSize;
  if (dv.getUint32(off, true) !== 0) {
    const nameLen = hasFileType(vol) ? buf[off + 6]! : dv.getUint16(off + 6, true);
    const nlen = dirRecLen(nameLen);
    const rlen = recLenFromDisk(dv.getUint16(off + 4, true), bs);
    dv.setUint16(off + 4, recLenToDisk(nlen, bs), true);
    off += nlen;
    dv.setUint16(off + 4, recLenToDisk(rlen - nlen, bs), true);
  }
  writeEntryFields(vol, buf, off, name, ino, fileType);
  return off;
}

/** ext4_generic_delete_entry: fold the record at `off` into `prev` (or, when first, zero its inode). */
export function deleteAt(vol: Volume, buf: Uint8Array, off: number, prev: number): void {
  const dv = viewOf(buf);
  const bs = vol.blockSize;
  const recLen = recLenFromDisk(dv.getUint16(off + 4, true), bs);
  if (prev >= 0) {
    const prevLen = recLenFromDisk(dv.getUint16(prev + 4, true), bs);
    dv.setUint16(prev + 4, recLenToDisk(prevLen + recLen, bs), true);
    buf.fill(0, off, off + recLen);
  } else {
    dv.setUint32(off, 0, true);
    buf.fill(0, off + 6, off + recLen);
  }
}

/** Write the 12-byte checksum tail record (checksum still to be set). */
export function initDirTail(buf: Uint8Array, blockSize: number): void {
  const t = blockSize - DIR_TAIL_SIZE;
  const dv = viewOf(buf);
  dv.setUint32(t, 0, true);
  dv.setUint16(t + 4, DIR_TAIL_SIZE, true);
  buf[t + 6] = 0;
  buf[t + 7] = DIR_TAIL_FT;
  dv.setUint32(t + 8, 0, true);
}

/** An empty leaf: one unused record over the whole block (and the tail with metadata_csum). */
export function initEmptyLeaf(vol: Volume, buf: Uint8Array): void {
  const bs = vol.blockSize;
  const dv = viewOf(buf);
  buf.fill(0);
  dv.setUint16(4, recLenToDisk(bs - tailSize(vol), bs), true);
  if (vol.hasMetadataCsum) initDirTail(buf, bs);
}

/** Refresh a leaf block's checksum tail (ext4_dirblock_csum_set); blocks without a tail are left alone. */
export function setLeafChecksum(vol: Volume, dir: Inode, buf: Uint8Array): void {
  const bs = vol.blockSize;
  if (!vol.hasMetadataCsum || !hasDirTail(buf, bs)) return;
  viewOf(buf).setUint32(bs - 4, dirBlockChecksum(vol.inodeSeed(dir), buf, bs - DIR_TAIL_SIZE), true);
}

export interface NewDirBlock {
  lblk: number;
  physical: number;
  /** Zero-filled, already dirty in the handle. */
  buf: Uint8Array;
}

/** ext4_append: map the block at i_size, grow i_size by a block, write the inode. */
export function appendDirBlock(vol: Volume, h: Handle, dir: Inode): NewDirBlock | number {
  const bs = vol.blockSize;
  const lblk = Math.floor(dir.size / bs);
  // Without large_dir the kernel reads a directory's i_size_high as zero.
  if (!vol.has('incompat', INCOMPAT.large_dir) && (lblk + 1) * bs > 0xffffffff) return -Errno.ENOSPC;
  const physical = mapOne(vol, h, dir, lblk);
  if (physical < 0) return physical;
  const buf = h.getNew(physical);
  dir.size = (lblk + 1) * bs;
  vol.writeInode(h, dir);
  return { lblk, physical, buf };
}

/** Map logical block lblk (allocating it if it is a hole): the physical block or -errno. */
function mapOne(vol: Volume, h: Handle, dir: Inode, lblk: number): number {
  const runs = allocateRange(vol, h, dir, lblk, 1);
  if (typeof runs === 'number') return runs;
  const run = runs.find((r) => r.logical <= lblk && lblk < r.logical + r.length);
  if (!run || run.physical === 0) corrupt('dirent', `directory block ${lblk} still unmapped after allocation`, { ino: dir.ino });
  return run.physical + (lblk - run.logical);
}

/** Where an entry lives: its block, its offset and the previous record's (-1 when first). */
export interface EntryLocation {
  lblk: number;
  physical: number;
  off: number;
  prev: number;
}

function isDot(name: Uint8Array): boolean {
  return (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
}

/** A name the caller may add: -EINVAL / -ENAMETOOLONG, or 0. */
function checkName(name: Uint8Array): number {
  if (name.length === 0) return -Errno.EINVAL;
  if (name.length > EXT2_NAME_LEN) return -Errno.ENAMETOOLONG;
  for (let i = 0; i < name.length; i++) if (name[i] === 0 || name[i] === 0x2f) return -Errno.EINVAL;
  return 0;
}

// ---- linear directories ---------------------------------------------------------

/** Search a directory block by block for `name`. */
function linearFind(vol: Volume, dir: Inode, name: Uint8Array): EntryLocation | number {
  const nblocks = dirBlocks(vol, dir);
  for (let lblk = 0; lblk < nblocks; lblk++) {
    const run = runAt(vol, dir, lblk);
    if (run.physical === 0 || run.unwritten) { lblk += Math.max(run.length, 1) - 1; continue; } // whole runs
    const hit = findInLeaf(vol, dir, lblk, run.physical, name);
    if (hit) return hit;
  }
  return -Errno.ENOENT;
}

/** Read and verify leaf block `lblk` (at `physical`) and find `name` in it: its record and the one before. */
export function findInLeaf(vol: Volume, dir: Inode, lblk: number, physical: number, name: Uint8Array): EntryLocation | null {
  const buf = vol.readMetaBlock(physical, 'dirent', { ino: dir.ino });
  verifyDirBlock(vol, dir, buf, lblk, physical);
  let prev = -1;
  let found = -1;
  let foundPrev = -1;
  forEachRecord(vol, dir, buf, 0, leafEnd(vol, buf), physical, (off, ino, _recLen, nameLen) => {
    if (ino !== 0 && nameAt(buf, off, nameLen, name)) { found = off; foundPrev = prev; return false; }
    prev = off;
    return true;
  });
  return found >= 0 ? { lblk, physical, off: found, prev: foundPrev } : null;
}

function dirBlocks(vol: Volume, dir: Inode): number {
  const bs = vol.blockSize;
  if (dir.size % bs !== 0) corrupt('dirent', `directory size ${dir.size} is not a multiple of the block size`, { ino: dir.ino });
  return dir.size / bs;
}

/** ext4_add_entry for a directory without a usable index. */
function linearAdd(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, ino: number, fileType: number): number {
  if (dir.hasFlag(InodeFlags.INDEX)) {
    // ext4_update_dx_flag: an index on a filesystem without dir_index is dropped.
    dir.flags = (dir.flags & ~InodeFlags.INDEX) >>> 0;
    vol.writeInode(h, dir);
  }
  const need = dirRecLen(name.length);
  const nblocks = dirBlocks(vol, dir);
  for (let lblk = 0; lblk < nblocks; lblk++) {
    const run = runAt(vol, dir, lblk);
    if (run.unwritten) { lblk += Math.max(run.length, 1) - 1; continue; }
    if (run.physical === 0) {
      // A hole: the kernel fills it with a new block (ext4_bread(..., CREATE)).
      const physical = mapOne(vol, h, dir, lblk);
      if (physical < 0) return physical;
      const buf = h.getNew(physical);
      initEmptyLeaf(vol, buf);
      insertAt(vol, buf, 0, name, ino, fileType);
      setLeafChecksum(vol, dir, buf);
      vol.writeInode(h, dir);
      return 0;
    }
    const physical = run.physical;
    const buf = vol.readMetaBlock(physical, 'dirent', { ino: dir.ino });
    verifyDirBlock(vol, dir, buf, lblk, physical);
    const slot = findSlot(vol, dir, buf, 0, leafEnd(vol, buf), need, physical);
    if (slot >= 0) {
      const w = writable(h, physical);
      insertAt(vol, w, slot, name, ino, fileType);
      setLeafChecksum(vol, dir, w);
      return 0;
    }
    if (nblocks === 1 && vol.has('compat', COMPAT.dir_index)) {
      const r = makeIndexedDir(vol, h, dir, name, ino, fileType);
      if (r !== null) return r;
    }
  }
  const nb = appendDirBlock(vol, h, dir);
  if (typeof nb === 'number') return nb;
  initEmptyLeaf(vol, nb.buf);
  insertAt(vol, nb.buf, 0, name, ino, fileType);
  setLeafChecksum(vol, dir, nb.buf);
  return 0;
}

/** Find an entry for removal or replacement (index first, then a scan). */
function findEntry(vol: Volume, dir: Inode, name: Uint8Array): EntryLocation | number {
  if (isIndexed(vol, dir)) {
    const r = dxFindEntry(vol, dir, name);
    if (r !== null) return r;
  }
  return linearFind(vol, dir, name);
}

// ---- the API ----------------------------------------------------------------------

/**
 * Add `name` → `ino` to a directory. 0, or -ENOSPC, -ENAMETOOLONG, -EINVAL (empty
 * name, "/" or NUL in it), -EEXIST for "." and "..", -ENOTDIR. The caller has
 * checked that the name is absent (EEXIST) and the link limit (EMLINK).
 */
export function addEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, ino: number, fileType: number): number {
  if (!dir.isDir) return -Errno.ENOTDIR;
  const bad = checkName(name);
  if (bad !== 0) return bad;
  if (isDot(name)) return -Errno.EEXIST;
  if (ino < 1 || ino > vol.geo.inodesCount) throw new RangeError(`addEntry: inode number ${ino} out of range`);
  const ft = hasFileType(vol) ? fileType : FT.UNKNOWN;
  if (isInline(dir)) {
    const r = inlineAddEntry(vol, h, dir, name, ino, ft);
    if (r !== INLINE_CONVERTED) return r;
  }
  if (isIndexed(vol, dir)) return dxAddEntry(vol, h, dir, name, ino, ft);
  return linearAdd(vol, h, dir, name, ino, ft);
}

/** Remove `name`: the inode number it named, or -ENOENT (-EINVAL for "." and ".."). */
export function removeEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array): number {
  if (!dir.isDir) return -Errno.ENOTDIR;
  if (isDot(name)) return -Errno.EINVAL;
  const bad = checkName(name);
  if (bad !== 0) return bad === -Errno.ENAMETOOLONG ? bad : -Errno.ENOENT;
  if (isInline(dir)) return inlineRemoveEntry(vol, h, dir, name);
  const loc = findEntry(vol, dir, name);
  if (typeof loc === 'number') return loc;
  const w = writable(h, loc.physical);
  const old = viewOf(w).getUint32(loc.off, true);
  deleteAt(vol, w, loc.off, loc.prev);
  setLeafChecksum(vol, dir, w);
  return old;
}

/** Point an existing `name` at another inode (rename over it): the old inode number, or -ENOENT. */
export function replaceEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, newIno: number, newFileType: number): number {
  if (!dir.isDir) return -Errno.ENOTDIR;
  if (isDot(name)) return -Errno.EINVAL;
  const bad = checkName(name);
  if (bad !== 0) return bad === -Errno.ENAMETOOLONG ? bad : -Errno.ENOENT;
  if (newIno < 1 || newIno > vol.geo.inodesCount) throw new RangeError(`replaceEntry: inode number ${newIno} out of range`);
  const ft = hasFileType(vol) ? newFileType : FT.UNKNOWN;
  if (isInline(dir)) return inlineReplaceEntry(vol, h, dir, name, newIno, ft);
  const loc = findEntry(vol, dir, name);
  if (typeof loc === 'number') return loc;
  const w = writable(h, loc.physical);
  const dv = viewOf(w);
  const old = dv.getUint32(loc.off, true);
  dv.setUint32(loc.off, newIno, true);
  if (hasFileType(vol)) w[loc.off + 7] = ft;
  setLeafChecksum(vol, dir, w);
  return old;
}

/**
 * The first block of a new directory: "." and "..", the rest of the block in
 * "..", a checksum tail with metadata_csum (ext4_init_dirblock). The inode must
 * have an empty block map (see bmap-write initBlockMap). Sets i_size to one
 * block and writes the inode. 0 or -ENOSPC.
 */
export function initDirBlock(vol: Volume, h: Handle, dir: Inode, parentIno: number): number {
  if (isInline(dir)) return -Errno.EINVAL;
  const bs = vol.blockSize;
  const physical = mapOne(vol, h, dir, 0);
  if (physical < 0) return physical;
  const buf = h.getNew(physical);
  const dv = viewOf(buf);
  const dot = new Uint8Array([0x2e]);
  const dotdot = new Uint8Array([0x2e, 0x2e]);
  const ft = hasFileType(vol) ? FT.DIR : FT.UNKNOWN;
  writeEntryFields(vol, buf, 0, dot, dir.ino, ft);
  dv.setUint16(4, 12, true);
  writeEntryFields(vol, buf, 12, dotdot, parentIno, ft);
  dv.setUint16(16, recLenToDisk(bs - 12 - tailSize(vol), bs), true);
  if (vol.hasMetadataCsum) initDirTail(buf, bs);
  setLeafChecksum(vol, dir, buf);
  dir.size = bs;
  vol.writeInode(h, dir);
  return 0;
}

/** Where ".." is in block 0 (after "."), checked. */
function dotdotOffset(vol: Volume, dir: Inode, buf: Uint8Array, physical: number): number {
  const ft = hasFileType(vol);
  const dv = viewOf(buf);
  const ctx = { ino: dir.ino, block: physical };
  const nl = (off: number) => (ft ? buf[off + 6]! : dv.getUint16(off + 6, true));
  if (nl(0) !== 1 || buf[8] !== 0x2e) corrupt('dirent', 'first entry of the directory is not "."', ctx);
  const off = recLenFromDisk(dv.getUint16(4, true), vol.blockSize);
  if (off < 12 || off + 12 > vol.blockSize || nl(off) !== 2 || buf[off + 8] !== 0x2e || buf[off + 9] !== 0x2e) {
    corrupt('dirent', 'second entry of the directory is not ".."', ctx);
  }
  return off;
}

/** Point ".." at a new parent (rename of a directory to another parent). 0 or -errno. */
export function setDotDot(vol: Volume, h: Handle, dir: Inode, newParentIno: number): number {
  if (!dir.isDir) return -Errno.ENOTDIR;
  if (isInline(dir)) return inlineSetParent(vol, h, dir, newParentIno);
  if (dir.size < vol.blockSize) corrupt('dirent', 'directory has no first block', { ino: dir.ino });
  const run = runAt(vol, dir, 0);
  if (run.physical === 0) corrupt('dirent', 'directory block 0 is a hole', { ino: dir.ino });
  const physical = run.physical;
  const buf = vol.readMetaBlock(physical, 'dirent', { ino: dir.ino });
  const indexed = isIndexed(vol, dir);
  if (indexed) readDxRoot(vol, dir, buf, physical); // checks the root and its checksum
  else verifyDirBlock(vol, dir, buf, 0, physical);
  const off = dotdotOffset(vol, dir, buf, physical);
  const w = writable(h, physical);
  viewOf(w).setUint32(off, newParentIno, true);
  if (indexed) setDxChecksum(vol, dir, w, DX_ROOT_INFO_OFFSET + w[DX_ROOT_INFO_OFFSET + 5]!);
  else setLeafChecksum(vol, dir, w);
  return 0;
}

/** Does the directory hold nothing but "." and ".."? */
export function isEmptyDir(vol: Volume, dir: Inode): boolean {
  if (isInline(dir)) return inlineIsEmpty(vol, dir);
  let empty = true;
  readDir(vol, dir, 0, (_ino, name) => {
    if (isDot(name)) return true;
    empty = false;
    return false;
  });
  return empty;
}
