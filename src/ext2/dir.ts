// Directories, read side: Documentation/filesystems/ext4/directory.rst.
// Linear iteration over leaf blocks (htree directories too: their index blocks
// look like empty entries), inline directories, and name lookup (htree when
// indexed, else a linear scan). Every record is checked as ext4_check_dir_entry does.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { CorruptionError, corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { InodeFlags } from './layout/inode.js';
import { INCOMPAT, COMPAT } from './layout/features.js';
import { DIR_TAIL_FT, DIR_TAIL_SIZE, FT } from './layout/dirent.js';
import { dirBlockChecksum } from './checksums.js';
import { isInline, runAt } from './file.js';
import { inlineBytes } from './inline.js';
import { htreeLookup } from './htree.js';
import type { Volume } from './volume.js';

/** Called per entry; return false to stop. `next` is the cookie of the following position. */
export type DirVisitor = (ino: number, name: Uint8Array, fileType: number, next: number) => boolean;

/** rec_len as stored → bytes (64 KiB blocks encode 65536 as 0 or 65535). */
export function recLenFromDisk(v: number, blockSize: number): number {
  if (blockSize < 65536) return v;
  if (v === 65535 || v === 0) return blockSize;
  return (v & 65532) | ((v & 3) << 16);
}

export function dirRecLen(nameLen: number): number {
  return (nameLen + 8 + 3) & ~3;
}

/** Where the visitor scan starts and whether block 0 of an htree is a dx root. */
function hasFileType(vol: Volume): boolean {
  return vol.has('incompat', INCOMPAT.filetype);
}

/** Does a leaf block end in a checksum tail? */
export function hasDirTail(block: Uint8Array, blockSize: number): boolean {
  const t = blockSize - DIR_TAIL_SIZE;
  const dv = viewOf(block);
  return dv.getUint32(t, true) === 0 && dv.getUint16(t + 4, true) === DIR_TAIL_SIZE && block[t + 6] === 0 && block[t + 7] === DIR_TAIL_FT;
}

export function isIndexed(vol: Volume, dir: Inode): boolean {
  return dir.hasFlag(InodeFlags.INDEX) && vol.has('compat', COMPAT.dir_index);
}

/** Is this block an htree interior node (one empty record covering the block)? */
function isDxNode(block: Uint8Array, bs: number): boolean {
  const dv = viewOf(block);
  return dv.getUint32(0, true) === 0 && recLenFromDisk(dv.getUint16(4, true), bs) === bs;
}

/** Verify a leaf block's checksum tail (metadata_csum). */
export function verifyDirBlock(vol: Volume, dir: Inode, block: Uint8Array, lblk: number, physical: number): void {
  if (!vol.hasMetadataCsum) return;
  const bs = vol.blockSize;
  if (!hasDirTail(block, bs)) {
    if (isIndexed(vol, dir) && (lblk === 0 || isDxNode(block, bs))) return; // checked by the htree code
    vol.checksumFailure(new CorruptionError('checksum', `directory block ${lblk} has no checksum tail`, { ino: dir.ino, block: physical }));
    return;
  }
  const stored = viewOf(block).getUint32(bs - 4, true);
  const want = dirBlockChecksum(vol.inodeSeed(dir), block, bs - DIR_TAIL_SIZE);
  if (stored !== want) {
    vol.checksumFailure(new CorruptionError('checksum', `directory block checksum 0x${stored.toString(16)} != 0x${want.toString(16)}`, { ino: dir.ino, block: physical }));
  }
}

/**
 * Walk the records of one block (or inline area) from byte `start`, checking each.
 * `base` is added to offsets to form cookies. Returns false if the visitor stopped.
 */
/** Called per record: offset, inode, rec_len, name_len. Return false to stop. */
export type RecordVisitor = (off: number, ino: number, recLen: number, nameLen: number) => boolean;

/**
 * Walk the records of buf[start, end), checking each as ext4_check_dir_entry does
 * (the one place records are validated, for readers and writers alike).
 * Returns false if the visitor stopped the walk.
 */
export function forEachRecord(vol: Volume, dir: Inode, buf: Uint8Array, start: number, end: number, block: number | undefined, visit: RecordVisitor): boolean {
  const dv = viewOf(buf);
  const ft = hasFileType(vol);
  const bs = vol.blockSize;
  let off = start;
  while (off < end) {
    const ctx = { ino: dir.ino, block, offset: off - start };
    if (off + 8 > end) corrupt('dirent', `record header at ${off} runs past the end`, ctx);
    const ino = dv.getUint32(off, true);
    const recLen = recLenFromDisk(dv.getUint16(off + 4, true), bs);
    const nameLen = ft ? buf[off + 6]! : dv.getUint16(off + 6, true);
    if (recLen < 12) corrupt('dirent', `rec_len ${recLen} is too small`, ctx);
    if (recLen % 4 !== 0) corrupt('dirent', `rec_len ${recLen} is not a multiple of 4`, ctx);
    if (off + recLen > end) corrupt('dirent', `rec_len ${recLen} runs past the end of the block`, ctx);
    if (ino !== 0 && recLen < dirRecLen(nameLen)) corrupt('dirent', `rec_len ${recLen} too small for a ${nameLen}-byte name`, ctx);
    if (ino > vol.geo.inodesCount) corrupt('dirent', `inode number ${ino} out of range`, ctx);
    if (ino !== 0 && nameLen === 0) corrupt('dirent', 'entry with an empty name', ctx);
    if (!visit(off, ino, recLen, nameLen)) return false;
    off += recLen;
  }
  return true;
}

/**
 * Visit the live entries of buf[start, end) with their names; `base` is added to
 * offsets to form cookies. Returns false if the visitor stopped.
 */
export function scanRecords(
  vol: Volume, dir: Inode, buf: Uint8Array, start: number, end: number, base: number, where: { block?: number },
  visit: DirVisitor,
): boolean {
  const ft = hasFileType(vol);
  return forEachRecord(vol, dir, buf, start, end, where.block, (off, ino, recLen, nameLen) => {
    if (ino === 0) return true;
    const fileType = ft ? buf[off + 7]! : FT.UNKNOWN;
    if (fileType === DIR_TAIL_FT && nameLen === 0) return true;
    return visit(ino, buf.subarray(off + 8, off + 8 + nameLen), fileType, base + off + recLen);
  });
}

/**
 * Visit entries from cookie `from` (0 = start). Cookies are byte positions of the
 * next record: block index × block size + offset (inline: a position in the inline
 * area, with 0 and 1 standing for the synthesized "." and "..").
 */
export function readDir(vol: Volume, dir: Inode, from: number, visit: DirVisitor): void {
  if (!dir.isDir) return;
  if (isInline(dir)) return readInlineDir(vol, dir, from, visit);
  const bs = vol.blockSize;
  const size = dir.size;
  if (size % bs !== 0) corrupt('dirent', `directory size ${size} is not a multiple of the block size`, { ino: dir.ino });
  const nblocks = size / bs;
  let lblk = Math.floor(from / bs);
  let startOff = from % bs;
  // A directory cannot hold more blocks than the volume: a damaged block map that
  // repeats one block (indirect blocks pointing at each other) could otherwise make
  // one readdir scan 2^30 blocks.
  let budget = vol.geo.blocksCount;
  // One block-map lookup per run, not per block: a big linear directory is one
  // or a few runs, and re-walking the map for every block dominated lookups.
  let run = runAt(vol, dir, lblk);
  for (; lblk < nblocks; lblk++) {
    if (lblk >= run.logical + run.length) run = runAt(vol, dir, lblk);
    if (run.physical === 0 || run.unwritten) {
      // Holes in directories read as empty; skip the whole run (a damaged i_size may span 2^40 bytes of hole).
      startOff = 0;
      lblk = Math.min(run.logical + run.length, nblocks) - 1;
      continue;
    }
    if (--budget < 0) corrupt('dirent', 'directory maps more blocks than the volume holds', { ino: dir.ino });
    const physical = run.physical + (lblk - run.logical);
    const block = vol.readMetaBlock(physical, 'dirent', { ino: dir.ino });
    verifyDirBlock(vol, dir, block, lblk, physical);
    // A resumed scan may start mid-block: the cookie is a record boundary we handed out.
    const end = vol.hasMetadataCsum && hasDirTail(block, bs) ? bs - DIR_TAIL_SIZE : bs;
    if (startOff >= end) { startOff = 0; continue; }
    if (!scanRecords(vol, dir, block, startOff, end, lblk * bs, { block: physical }, visit)) return;
    startOff = 0;
  }
}

function readInlineDir(vol: Volume, dir: Inode, from: number, visit: DirVisitor): void {
  const data = inlineBytes(vol, dir);
  const parent = viewOf(data).getUint32(0, true);
  const dot = new Uint8Array([0x2e]);
  const dotdot = new Uint8Array([0x2e, 0x2e]);
  if (from === 0 && !visit(dir.ino, dot, FT.DIR, 1)) return;
  if (from <= 1 && !visit(parent, dotdot, FT.DIR, 2)) return;
  // Cookie c >= 2 is byte c - 2 + 4 of the inline area (records start after the parent word).
  const pos = Math.max(from, 2) - 2 + 4;
  // i_block part [4, 60), then the system.data part [60, end): records never straddle the two.
  const iEnd = Math.min(60, data.length);
  if (pos < iEnd && !scanRecords(vol, dir, data, pos, iEnd, -2, {}, visit)) return;
  if (data.length > 60) scanRecords(vol, dir, data, Math.max(pos, 60), data.length, -2, {}, visit);
}

/** Look a name up in a directory: the inode number, or -ENOENT / -ENOTDIR. */
export function lookup(vol: Volume, dir: Inode, name: Uint8Array): number {
  if (!dir.isDir) return -Errno.ENOTDIR;
  if (name.length === 0) return -Errno.ENOENT;
  if (name.length > 255) return -Errno.ENAMETOOLONG;
  if (name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e))) {
    // "." and ".." live at the start (block 0, or the inline parent word), as
    // the kernel's __ext4_find_entry reads them; an htree search would miss them.
    if (name.length === 1) return dir.ino;
    return dotDot(vol, dir);
  }
  if (!isInline(dir) && isIndexed(vol, dir)) {
    const r = htreeLookup(vol, dir, name);
    if (r !== null) return r;
    // null: the index could not be used (e.g. unknown hash), fall back to a scan.
  }
  let found = -Errno.ENOENT;
  readDir(vol, dir, 0, (ino, n) => {
    if (n.length === name.length && equalBytes(n, name)) { found = ino; return false; }
    return true;
  });
  return found;
}

/** The parent inode number recorded in a directory (its ".." entry). */
export function dotDot(vol: Volume, dir: Inode): number {
  let parent = -Errno.ENOENT;
  let seen = 0;
  readDir(vol, dir, 0, (ino, n) => {
    if (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e) { parent = ino; return false; }
    return ++seen < 2; // "." and ".." are the first two records
  });
  return parent;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
