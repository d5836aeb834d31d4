// Hash tree directories, write side: Documentation/filesystems/ext4/directory.rst
// ("Hash Tree Directories"); the kernel's fs/ext4/namei.c make_indexed_dir,
// ext4_dx_add_entry, do_split, dx_insert_block, dx_probe.
//
// - Converting: a single-block linear directory that overflows keeps "." and ".."
//   in block 0, which becomes the dx root (".." covers the rest of the block,
//   dx_root_info, one dx_entry → block 1); its other records move to block 1,
//   which is then split at once, so the result is a root and two leaves.
// - Adding: hash the name, descend, insert into the leaf. A full leaf is split:
//   its live entries sorted by hash, the upper part (by the kernel's "neither
//   half over half full" rule) moved to a new block, whose lowest hash goes into
//   the parent after the entry of the old leaf. When the split point falls
//   inside a run of equal hashes, the new index entry carries the collision bit
//   (hash | 1) so lookups continue into the next leaf.
// - Full index nodes: the nearest ancestor with room takes a new entry for the
//   upper half of the full node below it; when every node up to the root is full
//   the root's entries move into a new node and the tree gets one level deeper
//   (indirect_levels 0→1; 1→2 only with large_dir). A tree already at the
//   maximum depth gives -ENOSPC, like the kernel's "Directory index full".
//   After each index change the path is looked up again (the kernel's restart).
//
// Decision (collisions): unlike the kernel, when the split point would divide a
// run of equal hashes, the nearest split point that keeps the run together is
// used instead, provided both halves still fit with the new entry; only when
// there is none (a whole block of one hash) does the collision bit come into play.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { CorruptionError, UnsupportedError, corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { InodeFlags } from './layout/inode.js';
import { INCOMPAT } from './layout/features.js';
import { DX_MAX_LEVELS_LARGEDIR, DX_MAX_LEVELS_LEGACY, DX_ROOT_INFO_OFFSET } from './layout/dirent.js';
import { dxNodeChecksum } from './checksums.js';
import { dirHash } from './dirhash.js';
import { dirRecLen, recLenFromDisk, verifyDirBlock } from './dir.js';
import { effectiveHashVersion, readDxRoot } from './htree.js';
import { runAt } from './file.js';
import {
  appendDirBlock, findInLeaf, findSlot, forEachRecord, hasFileType, initDirTail, insertAt, leafEnd, recLenToDisk,
  setLeafChecksum, tailSize, writable, type EntryLocation, type NewDirBlock,
} from './dir-write.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

/** Bits of dx_entry.block that name a block (the kernel's dx_get_block mask). */
const DX_BLOCK_MASK = 0x0fffffff;
const DX_TAIL_SIZE = 8;

/** One level of a path from the root to a leaf. */
export interface DxFrame {
  lblk: number;
  physical: number;
  /** Byte offset of the dx_countlimit (0x20 in the root, 8 in a node). */
  countOffset: number;
  count: number;
  limit: number;
  /** Index of the entry followed. */
  at: number;
}

export interface DxPath {
  frames: DxFrame[];
  hash: number;
  /** The effective hash version (signedness applied). */
  version: number;
}

/** dx_root_limit: entries that fit in the root after the fake "." / ".." and dx_root_info. */
export function dxRootLimit(vol: Volume): number {
  return Math.floor((vol.blockSize - 12 - 12 - 8 - (vol.hasMetadataCsum ? DX_TAIL_SIZE : 0)) / 8);
}

/** dx_node_limit: entries that fit in an interior node after its fake empty record. */
export function dxNodeLimit(vol: Volume): number {
  return Math.floor((vol.blockSize - 8 - (vol.hasMetadataCsum ? DX_TAIL_SIZE : 0)) / 8);
}

function maxLevels(vol: Volume): number {
  return vol.has('incompat', INCOMPAT.large_dir) ? DX_MAX_LEVELS_LARGEDIR : DX_MAX_LEVELS_LEGACY;
}

/** Set the dx_tail checksum of an index node or root (metadata_csum). */
export function setDxChecksum(vol: Volume, dir: Inode, buf: Uint8Array, countOffset: number): void {
  if (!vol.hasMetadataCsum) return;
  const dv = viewOf(buf);
  const limit = dv.getUint16(countOffset, true);
  const count = dv.getUint16(countOffset + 2, true);
  const tail = countOffset + limit * 8;
  if (tail + DX_TAIL_SIZE > vol.blockSize) corrupt('htree', `dx limit ${limit} leaves no room for the checksum tail`, { ino: dir.ino });
  dv.setUint32(tail, 0, true);
  dv.setUint32(tail + 4, dxNodeChecksum(vol.inodeSeed(dir), buf, countOffset, count, tail), true);
}

/** Physical block of directory block lblk, which must exist. */
function dirPhysical(vol: Volume, dir: Inode, lblk: number): number {
  const nblocks = Math.floor(dir.size / vol.blockSize);
  if (lblk >= nblocks) corrupt('htree', `index points at directory block ${lblk} beyond the directory's ${nblocks} blocks`, { ino: dir.ino });
  const run = runAt(vol, dir, lblk);
  if (run.physical === 0 || run.unwritten) corrupt('htree', `index points at directory block ${lblk}, which is a hole`, { ino: dir.ino });
  return run.physical;
}

/** Read and check an interior node: fake empty record over the block, limit, count, checksum. */
function readDxNode(vol: Volume, dir: Inode, lblk: number): DxFrame {
  const physical = dirPhysical(vol, dir, lblk);
  const buf = vol.readMetaBlock(physical, 'htree', { ino: dir.ino });
  const dv = viewOf(buf);
  const ctx = { ino: dir.ino, block: physical };
  if (dv.getUint32(0, true) !== 0 || recLenFromDisk(dv.getUint16(4, true), vol.blockSize) !== vol.blockSize) {
    corrupt('htree', 'index node is not an empty record covering the block', ctx);
  }
  const limit = dv.getUint16(8, true);
  const count = dv.getUint16(10, true);
  if (limit !== dxNodeLimit(vol)) corrupt('htree', `dx limit ${limit}, expected ${dxNodeLimit(vol)}`, ctx);
  if (count === 0 || count > limit) corrupt('htree', `dx count ${count} out of range 1..${limit}`, ctx);
  if (vol.hasMetadataCsum) {
    const tail = 8 + limit * 8;
    const stored = dv.getUint32(tail + 4, true);
    const want = dxNodeChecksum(vol.inodeSeed(dir), buf, 8, count, tail);
    if (stored !== want) vol.checksumFailure(new CorruptionError('checksum', `htree node checksum 0x${stored.toString(16)} != 0x${want.toString(16)}`, ctx));
  }
  return { lblk, physical, countOffset: 8, count, limit, at: 0 };
}

function entryHash(buf: Uint8Array, f: DxFrame, i: number): number {
  return i === 0 ? 0 : viewOf(buf).getUint32(f.countOffset + i * 8, true);
}

function entryBlock(buf: Uint8Array, f: DxFrame, i: number): number {
  return viewOf(buf).getUint32(f.countOffset + i * 8 + 4, true) & DX_BLOCK_MASK;
}

/** dx_probe's binary search: the last entry whose hash <= h (entry 0 covers from 0). */
function search(buf: Uint8Array, f: DxFrame, h: number): number {
  const dv = viewOf(buf);
  let lo = 1;
  let hi = f.count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (dv.getUint32(f.countOffset + mid * 8, true) > h) hi = mid - 1; else lo = mid + 1;
  }
  return lo - 1;
}

function frameBuf(vol: Volume, dir: Inode, f: DxFrame): Uint8Array {
  return vol.readMetaBlock(f.physical, 'htree', { ino: dir.ino });
}

/** dx_probe: the path from the root to the leaf for `name`; null when the hash is not supported. */
export function dxProbe(vol: Volume, dir: Inode, name: Uint8Array): DxPath | null {
  const rootPhysical = dirPhysical(vol, dir, 0);
  const root = vol.readMetaBlock(rootPhysical, 'htree', { ino: dir.ino });
  const info = readDxRoot(vol, dir, root, rootPhysical);
  const version = effectiveHashVersion(vol, info.hashVersion);
  if (version === null) return null;
  const { hash } = dirHash(name, version, vol.hashSeed);
  const frames: DxFrame[] = [];
  let f: DxFrame = { lblk: 0, physical: rootPhysical, countOffset: info.countOffset, count: info.count, limit: info.limit, at: 0 };
  let buf = root;
  for (let level = 0; ; level++) {
    f.at = search(buf, f, hash);
    frames.push(f);
    if (level === info.indirectLevels) break;
    const child = entryBlock(buf, f, f.at);
    if (child === 0) corrupt('htree', 'index entry points back at the root', { ino: dir.ino, block: f.physical });
    f = readDxNode(vol, dir, child);
    buf = frameBuf(vol, dir, f);
  }
  return { frames, hash, version };
}

/** ext4_htree_next_block: step to the next leaf if its hash continues `hash`. */
function nextLeaf(vol: Volume, dir: Inode, path: DxPath): boolean {
  const frames = path.frames;
  let i = frames.length - 1;
  while (frames[i]!.at + 1 >= frames[i]!.count) {
    if (i === 0) return false;
    i--;
  }
  const f = frames[i]!;
  f.at++;
  const bhash = entryHash(frameBuf(vol, dir, f), f, f.at);
  if (((bhash & ~1) >>> 0) !== path.hash) return false;
  for (let j = i + 1; j < frames.length; j++) {
    const up = frames[j - 1]!;
    frames[j] = readDxNode(vol, dir, entryBlock(frameBuf(vol, dir, up), up, up.at));
  }
  return true;
}

/** Find `name` through the index: its location, -ENOENT, or null when the index cannot be used. */
export function dxFindEntry(vol: Volume, dir: Inode, name: Uint8Array): EntryLocation | number | null {
  const path = dxProbe(vol, dir, name);
  if (path === null) return null;
  for (let guard = 0; guard <= vol.geo.blocksCount; guard++) {
    const f = path.frames[path.frames.length - 1]!;
    const lblk = entryBlock(frameBuf(vol, dir, f), f, f.at);
    const hit = findInLeaf(vol, dir, lblk, dirPhysical(vol, dir, lblk), name);
    if (hit) return hit;
    if (!nextLeaf(vol, dir, path)) return -Errno.ENOENT;
  }
  return corrupt('htree', 'leaf chain longer than the volume', { ino: dir.ino });
}

/** dx_insert_block: a new entry (hash, block) right after the one the frame follows. */
function dxInsertEntry(vol: Volume, h: Handle, dir: Inode, f: DxFrame, hash: number, lblk: number): void {
  const buf = writable(h, f.physical);
  const dv = viewOf(buf);
  const co = f.countOffset;
  const count = dv.getUint16(co + 2, true);
  if (count >= dv.getUint16(co, true)) corrupt('htree', 'inserting into a full index node', { ino: dir.ino, block: f.physical });
  const pos = co + (f.at + 1) * 8;
  buf.copyWithin(pos + 8, pos, co + count * 8);
  dv.setUint32(pos, hash >>> 0, true);
  dv.setUint32(pos + 4, lblk, true);
  dv.setUint16(co + 2, count + 1, true);
  setDxChecksum(vol, dir, buf, co);
}

/** The header of a new interior node: a fake empty record over the block, limit, count. */
function initDxNode(vol: Volume, buf: Uint8Array, count: number): void {
  const dv = viewOf(buf);
  dv.setUint32(0, 0, true);
  dv.setUint16(4, recLenToDisk(vol.blockSize, vol.blockSize), true);
  buf[6] = 0;
  buf[7] = 0;
  dv.setUint16(8, dxNodeLimit(vol), true);
  dv.setUint16(10, count, true);
}

/** Split a full node into itself and `nb`; the parent gets the entry for the upper half. */
function splitIndexNode(vol: Volume, h: Handle, dir: Inode, parent: DxFrame, node: DxFrame, nb: NewDirBlock): void {
  const src = writable(h, node.physical);
  const co = node.countOffset;
  const icount = node.count;
  const icount1 = icount >> 1;
  const icount2 = icount - icount1;
  const hash2 = viewOf(src).getUint32(co + icount1 * 8, true);
  nb.buf.set(src.subarray(co + icount1 * 8, co + icount * 8), 8);
  initDxNode(vol, nb.buf, icount2);
  viewOf(src).setUint16(co + 2, icount1, true);
  setDxChecksum(vol, dir, src, co);
  setDxChecksum(vol, dir, nb.buf, 8);
  dxInsertEntry(vol, h, dir, parent, hash2, nb.lblk);
}

/** Move the root's entries into a new node below it: the tree grows one level. */
function addIndexLevel(vol: Volume, h: Handle, dir: Inode, root: DxFrame, nb: NewDirBlock): void {
  const rbuf = writable(h, root.physical);
  const co = root.countOffset;
  nb.buf.set(rbuf.subarray(co, co + root.count * 8), 8);
  initDxNode(vol, nb.buf, root.count);
  const dv = viewOf(rbuf);
  dv.setUint16(co + 2, 1, true);
  dv.setUint32(co + 4, nb.lblk, true);
  rbuf[DX_ROOT_INFO_OFFSET + 6] = rbuf[DX_ROOT_INFO_OFFSET + 6]! + 1;
  setDxChecksum(vol, dir, rbuf, co);
  setDxChecksum(vol, dir, nb.buf, 8);
}

/** ext4_dx_add_entry. 0 or -ENOSPC. */
export function dxAddEntry(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, ino: number, fileType: number): number {
  const need = dirRecLen(name.length);
  // Each pass either inserts or changes the index once; the index can change at most once per level.
  for (let pass = 0; pass <= 2 * DX_MAX_LEVELS_LARGEDIR + 2; pass++) {
    const path = dxProbe(vol, dir, name);
    if (path === null) {
      throw new UnsupportedError(`directory ${dir.ino}: htree hash version not supported for writing`, Errno.EOPNOTSUPP);
    }
    const frames = path.frames;
    const f = frames[frames.length - 1]!;
    const leafLblk = entryBlock(frameBuf(vol, dir, f), f, f.at);
    const leafPhysical = dirPhysical(vol, dir, leafLblk);
    const leaf = vol.readMetaBlock(leafPhysical, 'dirent', { ino: dir.ino });
    verifyDirBlock(vol, dir, leaf, leafLblk, leafPhysical);
    const slot = findSlot(vol, dir, leaf, 0, leafEnd(vol, leaf), need, leafPhysical);
    if (slot >= 0) {
      const w = writable(h, leafPhysical);
      insertAt(vol, w, slot, name, ino, fileType);
      setLeafChecksum(vol, dir, w);
      return 0;
    }
    if (f.count < f.limit) return splitLeaf(vol, h, dir, f, leafPhysical, path, name, ino, fileType);
    // The leaf's parent is full: find the nearest ancestor with room.
    let i = frames.length - 1;
    let addLevel = true;
    while (i > 0) {
      if (frames[i - 1]!.count < frames[i - 1]!.limit) { addLevel = false; break; }
      i--;
    }
    if (addLevel && frames.length >= maxLevels(vol)) return -Errno.ENOSPC; // "Directory index full"
    const nb = appendDirBlock(vol, h, dir);
    if (typeof nb === 'number') return nb;
    if (addLevel) addIndexLevel(vol, h, dir, frames[0]!, nb);
    else splitIndexNode(vol, h, dir, frames[i - 1]!, frames[i]!, nb);
  }
  return corrupt('htree', 'index did not settle while adding an entry', { ino: dir.ino });
}

/** One live entry of a leaf being split (the kernel's dx_map_entry). */
export interface SplitEntry {
  hash: number;
  /** Offset in the block. */
  off: number;
  /** rec_len as stored (the kernel weighs entries by it). */
  size: number;
  /** Bytes the entry takes once packed. */
  packed: number;
}

/**
 * Where to split a hash-sorted map: the kernel's rule (move entries from the top
 * while the moved part stays within half a block), then, if that splits a run of
 * equal hashes, the nearest point that does not and still lets both halves hold
 * their entries plus the new one on its side. `continued` says the chosen point
 * is inside a run (the new index entry then gets the collision bit).
 */
export function chooseSplit(map: readonly SplitEntry[], blockSize: number, usable: number, newHash: number, need: number): { split: number; continued: boolean } {
  const count = map.length;
  let size = 0;
  let move = 0;
  let i: number;
  for (i = count - 1; i >= 0; i--) {
    if (size + map[i]!.size / 2 > blockSize / 2) break;
    size += map[i]!.size;
    move++;
  }
  let split = i > 0 ? count - move : count >> 1;
  split = Math.min(Math.max(split, 1), count - 1);
  if (map[split]!.hash !== map[split - 1]!.hash) return { split, continued: false };
  const total = map.reduce((s, e) => s + e.packed, 0);
  const prefix = new Array<number>(count + 1).fill(0);
  for (let k = 0; k < count; k++) prefix[k + 1] = prefix[k]! + map[k]!.packed;
  const fits = (s: number): boolean => {
    const low = prefix[s]!;
    const high = total - low;
    return newHash >= map[s]!.hash ? high + need <= usable && low <= usable : low + need <= usable && high <= usable;
  };
  for (let d = 1; d < count; d++) {
    for (const s of [split - d, split + d]) {
      if (s < 1 || s > count - 1) continue;
      if (map[s]!.hash !== map[s - 1]!.hash && fits(s)) return { split: s, continued: false };
    }
  }
  return { split, continued: true };
}

/** Copy entries into buf from offset 0, packed, the last one running to the end of the records. */
function packInto(vol: Volume, dst: Uint8Array, src: Uint8Array, entries: readonly SplitEntry[]): void {
  const bs = vol.blockSize;
  const ft = hasFileType(vol);
  const dv = viewOf(dst);
  const end = bs - tailSize(vol);
  let off = 0;
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    const nameLen = ft ? src[e.off + 6]! : viewOf(src).getUint16(e.off + 6, true);
    dst.set(src.subarray(e.off, e.off + 8 + nameLen), off);
    const len = k === entries.length - 1 ? end - off : e.packed;
    dv.setUint16(off + 4, recLenToDisk(len, bs), true);
    off += e.packed;
  }
  if (entries.length === 0) dv.setUint16(4, recLenToDisk(end, bs), true);
  if (vol.hasMetadataCsum) initDirTail(dst, bs);
}

/** do_split + add_dirent_to_buf: split a full leaf into itself and a new block, then add the entry. */
function splitLeaf(
  vol: Volume, h: Handle, dir: Inode, parent: DxFrame, leafPhysical: number, path: DxPath,
  name: Uint8Array, ino: number, fileType: number,
): number {
  const bs = vol.blockSize;
  const nb = appendDirBlock(vol, h, dir);
  if (typeof nb === 'number') return nb;
  const leaf = writable(h, leafPhysical);
  const old = leaf.slice();
  const map: SplitEntry[] = [];
  forEachRecord(vol, dir, old, 0, leafEnd(vol, old), leafPhysical, (off, eino, recLen, nameLen) => {
    if (eino !== 0 && nameLen !== 0) {
      const hash = dirHash(old.subarray(off + 8, off + 8 + nameLen), path.version, vol.hashSeed).hash;
      map.push({ hash, off, size: recLen, packed: dirRecLen(nameLen) });
    }
    return true;
  });
  if (map.length < 2) corrupt('htree', `full leaf with ${map.length} entries`, { ino: dir.ino, block: leafPhysical });
  map.sort((a, b) => a.hash - b.hash || a.off - b.off);
  const need = dirRecLen(name.length);
  const { split, continued } = chooseSplit(map, bs, bs - tailSize(vol), path.hash, need);
  const hash2 = map[split]!.hash;
  const moved = map.slice(split);
  const kept = map.slice(0, split).sort((a, b) => a.off - b.off);
  leaf.fill(0);
  packInto(vol, nb.buf, old, moved);
  packInto(vol, leaf, old, kept);
  dxInsertEntry(vol, h, dir, parent, (hash2 + (continued ? 1 : 0)) >>> 0, nb.lblk);
  const target = path.hash >= hash2 ? nb.buf : leaf;
  const slot = findSlot(vol, dir, target, 0, bs - tailSize(vol), need);
  if (slot < 0) corrupt('htree', 'no room for the new entry after a leaf split', { ino: dir.ino });
  insertAt(vol, target, slot, name, ino, fileType);
  setLeafChecksum(vol, dir, leaf);
  setLeafChecksum(vol, dir, nb.buf);
  return 0;
}

/**
 * make_indexed_dir: turn a full single-block directory into an htree (root in
 * block 0, its records moved to block 1, then split) and add the entry. Null
 * when block 0 does not start with "." and ".." laid out as the root needs
 * (the caller then grows the directory linearly).
 */
export function makeIndexedDir(vol: Volume, h: Handle, dir: Inode, name: Uint8Array, ino: number, fileType: number): number | null {
  const bs = vol.blockSize;
  const rootPhysical = dirPhysical(vol, dir, 0);
  const r = vol.readMetaBlock(rootPhysical, 'dirent', { ino: dir.ino });
  const dv0 = viewOf(r);
  const ft = hasFileType(vol);
  const nl = (off: number) => (ft ? r[off + 6]! : dv0.getUint16(off + 6, true));
  if (recLenFromDisk(dv0.getUint16(4, true), bs) !== 12 || nl(0) !== 1 || r[8] !== 0x2e) return null;
  if (nl(12) !== 2 || r[20] !== 0x2e || r[21] !== 0x2e) return null;
  const version = effectiveHashVersion(vol, vol.sb.s_def_hash_version);
  if (version === null) return null;
  const de = 12 + recLenFromDisk(dv0.getUint16(16, true), bs);
  const end = leafEnd(vol, r);
  if (de > end) corrupt('dirent', 'invalid rec_len for ".."', { ino: dir.ino, block: rootPhysical });
  const nb = appendDirBlock(vol, h, dir);
  if (typeof nb === 'number') return nb;
  const root = writable(h, rootPhysical);
  // Block 1: the records after "..", the last one stretched to the end of the records.
  const data2 = nb.buf;
  const len = end - de;
  const recEnd = bs - tailSize(vol);
  data2.set(root.subarray(de, end), 0);
  const dv2 = viewOf(data2);
  if (len === 0) {
    dv2.setUint16(4, recLenToDisk(recEnd, bs), true);
  } else {
    let last = 0;
    forEachRecord(vol, dir, data2, 0, len, nb.physical, (off) => { last = off; return true; });
    dv2.setUint16(last + 4, recLenToDisk(recEnd - last, bs), true);
  }
  if (vol.hasMetadataCsum) initDirTail(data2, bs);
  setLeafChecksum(vol, dir, data2);
  // Block 0 becomes the root.
  const dv = viewOf(root);
  root.fill(0, 24);
  dv.setUint16(16, recLenToDisk(bs - 12, bs), true);
  root[DX_ROOT_INFO_OFFSET + 4] = vol.sb.s_def_hash_version;
  root[DX_ROOT_INFO_OFFSET + 5] = 8;
  const co = DX_ROOT_INFO_OFFSET + 8;
  dv.setUint16(co, dxRootLimit(vol), true);
  dv.setUint16(co + 2, 1, true);
  dv.setUint32(co + 4, nb.lblk, true);
  setDxChecksum(vol, dir, root, co);
  dir.flags = (dir.flags | InodeFlags.INDEX) >>> 0;
  vol.writeInode(h, dir);
  const hash = dirHash(name, version, vol.hashSeed).hash;
  const frame: DxFrame = { lblk: 0, physical: rootPhysical, countOffset: co, count: 1, limit: dxRootLimit(vol), at: 0 };
  return splitLeaf(vol, h, dir, frame, nb.physical, { frames: [frame], hash, version }, name, ino, fileType);
}
