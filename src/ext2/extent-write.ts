// Changing extent trees: Documentation/filesystems/ext4/ifork.rst ("Extent Tree").
// The model: the kernel's fs/ext4/extents.c (insert with merge, split leaves and
// index nodes, grow the tree in the inode, correct parent keys, remove empty
// nodes). Nodes are edited as small in-memory lists and written back whole.
//
// Invariants kept (what e2fsck checks): entries sorted and non-overlapping; each
// index key equals the first logical block of its child; eh_max fills the node;
// tail checksums fresh; i_blocks counts data and tree blocks.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { corrupt } from './errors.js';
import { I_BLOCK_OFFSET, type Inode } from './inode.js';
import { EXT4_EXT_MAGIC, EXT_INIT_MAX_LEN, EXT_UNWRITTEN_MAX_LEN } from './layout/extent.js';
import { extentBlockChecksum } from './checksums.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

export interface LeafEntry { lblk: number; len: number; pblk: number; unwritten: boolean }
interface IndexEntry { lblk: number; child: number }

interface PathNode {
  /** 0 for the root in the inode. */
  block: number;
  depth: number;
  max: number;
  leaf: LeafEntry[] | null;
  index: IndexEntry[] | null;
  /** Entry followed to the next level (index nodes). */
  at: number;
  /** A newly allocated block: write without reading it first. */
  fresh?: boolean;
}

const ROOT_MAX = 4;

function blockMax(bs: number): number {
  return Math.floor((bs - 12) / 12);
}

function readNode(vol: Volume, inode: Inode, block: number): { buf: Uint8Array; off: number } {
  if (block === 0) return { buf: inode.bytes, off: I_BLOCK_OFFSET };
  return { buf: vol.readMetaBlock(block, 'extent', { ino: inode.ino }), off: 0 };
}

function parseNode(vol: Volume, inode: Inode, block: number): PathNode {
  const { buf, off } = readNode(vol, inode, block);
  const dv = viewOf(buf);
  if (dv.getUint16(off, true) !== EXT4_EXT_MAGIC) corrupt('extent', 'bad extent header magic', { ino: inode.ino, block: block || undefined });
  const n = dv.getUint16(off + 2, true);
  const max = dv.getUint16(off + 4, true);
  const depth = dv.getUint16(off + 6, true);
  if (n > max) corrupt('extent', `eh_entries ${n} > eh_max ${max}`, { ino: inode.ino, block: block || undefined });
  const node: PathNode = { block, depth, max, leaf: null, index: null, at: 0 };
  if (depth === 0) {
    node.leaf = [];
    for (let i = 0; i < n; i++) {
      const e = off + 12 + i * 12;
      const raw = dv.getUint16(e + 4, true);
      const unwritten = raw > EXT_INIT_MAX_LEN;
      node.leaf.push({ lblk: dv.getUint32(e, true), len: unwritten ? raw - EXT_INIT_MAX_LEN : raw, pblk: dv.getUint16(e + 6, true) * 0x1_0000_0000 + dv.getUint32(e + 8, true), unwritten });
    }
  } else {
    node.index = [];
    for (let i = 0; i < n; i++) {
      const e = off + 12 + i * 12;
      node.index.push({ lblk: dv.getUint32(e, true), child: dv.getUint16(e + 8, true) * 0x1_0000_0000 + dv.getUint32(e + 4, true) });
    }
  }
  return node;
}

function writeNode(vol: Volume, h: Handle, inode: Inode, node: PathNode): void {
  let buf: Uint8Array;
  let off: number;
  if (node.block === 0) { buf = inode.bytes; off = I_BLOCK_OFFSET; }
  else { buf = node.fresh ? h.getNew(node.block) : h.getWrite(node.block); off = 0; node.fresh = false; }
  const dv = viewOf(buf);
  const entries = node.leaf ?? node.index!;
  if (entries.length > node.max) throw new Error(`extent node overflow (${entries.length} > ${node.max})`);
  dv.setUint16(off, EXT4_EXT_MAGIC, true);
  dv.setUint16(off + 2, entries.length, true);
  dv.setUint16(off + 4, node.max, true);
  dv.setUint16(off + 6, node.depth, true);
  dv.setUint32(off + 8, 0, true);
  buf.fill(0, off + 12, off + 12 + node.max * 12);
  if (node.leaf) {
    node.leaf.forEach((x, i) => {
      const e = off + 12 + i * 12;
      dv.setUint32(e, x.lblk, true);
      dv.setUint16(e + 4, x.unwritten ? x.len + EXT_INIT_MAX_LEN : x.len, true);
      dv.setUint16(e + 6, Math.floor(x.pblk / 0x1_0000_0000), true);
      dv.setUint32(e + 8, x.pblk >>> 0, true);
    });
  } else {
    node.index!.forEach((x, i) => {
      const e = off + 12 + i * 12;
      dv.setUint32(e, x.lblk, true);
      dv.setUint32(e + 4, x.child >>> 0, true);
      dv.setUint16(e + 8, Math.floor(x.child / 0x1_0000_0000), true);
      dv.setUint16(e + 10, 0, true);
    });
  }
  if (node.block !== 0) {
    if (vol.hasMetadataCsum) dv.setUint32(12 + node.max * 12, extentBlockChecksum(vol.inodeSeed(inode), buf, node.max), true);
    h.dirty(node.block, buf);
  }
}

/** Path from the root to the leaf that holds (or would hold) logical block lblk. */
function findPath(vol: Volume, inode: Inode, lblk: number): PathNode[] {
  const path: PathNode[] = [];
  let node = parseNode(vol, inode, 0);
  for (let guard = 0; guard <= 5; guard++) {
    path.push(node);
    if (node.leaf) return path;
    const idx = node.index!;
    if (idx.length === 0) corrupt('extent', 'empty index node', { ino: inode.ino, block: node.block || undefined });
    let at = 0;
    for (let i = 1; i < idx.length; i++) if (idx[i]!.lblk <= lblk) at = i; else break;
    node.at = at;
    const child = parseNode(vol, inode, idx[at]!.child);
    if (child.depth !== node.depth - 1) corrupt('extent', `node depth ${child.depth}, expected ${node.depth - 1}`, { ino: inode.ino, block: idx[at]!.child });
    node = child;
  }
  return corrupt('extent', 'extent tree too deep', { ino: inode.ino });
}

function firstLblk(node: PathNode): number | undefined {
  return (node.leaf ?? node.index!)[0]?.lblk;
}

function treeGoal(inode: Inode, vol: Volume): number {
  return vol.inodeGoalBlock(inode);
}

function allocTreeBlock(vol: Volume, h: Handle, inode: Inode, near: number): number {
  const r = vol.alloc.allocBlocks(h, near || treeGoal(inode, vol), 1);
  if (typeof r === 'number') throw new ExtentNoSpace();
  inode.blocks512 = inode.blocks512 + vol.blockSize / 512;
  return r.start;
}

/** Thrown internally when a tree block cannot be allocated; turned into -ENOSPC. */
export class ExtentNoSpace extends Error {
  constructor() { super('no space for an extent tree block'); }
}

/**
 * Store new contents for the node at path[level] and fix the tree above it:
 * parent keys, splits on overflow, removal when empty, growth at the root.
 */
function commitNode(vol: Volume, h: Handle, inode: Inode, path: PathNode[], level: number, appendHint: boolean): void {
  const node = path[level]!;
  const entries: (LeafEntry | IndexEntry)[] = node.leaf ?? node.index!;
  // Empty non-root node: free it and drop it from the parent.
  if (entries.length === 0 && level > 0) {
    const parent = path[level - 1]!;
    h.forget(node.block);
    vol.alloc.freeBlocks(h, node.block, 1);
    inode.blocks512 = inode.blocks512 - vol.blockSize / 512;
    parent.index!.splice(parent.at, 1);
    parent.at = Math.max(0, parent.at - 1);
    return commitNode(vol, h, inode, path, level - 1, false);
  }
  if (entries.length === 0 && level === 0 && node.depth > 0) {
    // Whole tree emptied: back to an empty leaf root.
    node.depth = 0;
    node.index = null;
    node.leaf = [];
    writeNode(vol, h, inode, node);
    return;
  }
  if (entries.length <= node.max) {
    writeNode(vol, h, inode, node);
    if (level > 0) {
      const parent = path[level - 1]!;
      const key = firstLblk(node)!;
      if (parent.index![parent.at]!.lblk !== key) {
        parent.index![parent.at]!.lblk = key;
        commitNode(vol, h, inode, path, level - 1, false);
      }
    }
    return;
  }
  // Overflow. A leaf's split may run up the tree: have every block it needs before changing anything
  // (as ext4_ext_split allocates all its blocks first), so ENOSPC leaves the tree as it was.
  if (node.leaf) {
    let need = 1;
    for (let l = level - 1; l >= 0 && path[l]!.index!.length + 1 > path[l]!.max; l--) need++;
    if (vol.alloc.freeBlocksTotal < need) throw new ExtentNoSpace();
  }
  if (level === 0) {
    // Grow: move the root's entries into a new block; the root becomes one index entry.
    const blk = allocTreeBlock(vol, h, inode, 0);
    const child: PathNode = { block: blk, depth: node.depth, max: blockMax(vol.blockSize), leaf: node.leaf, index: node.index, at: node.at, fresh: true };
    node.depth += 1;
    node.leaf = null;
    node.index = [{ lblk: firstLblk(child)!, child: blk }];
    node.at = 0;
    node.max = ROOT_MAX;
    path.splice(1, 0, child);
    writeNode(vol, h, inode, node);
    // The child may still overflow a block (it cannot: a block holds > 4 entries) — write it.
    return commitNode(vol, h, inode, path, 1, appendHint);
  }
  // Split: the upper part moves to a new sibling node.
  const keep = appendHint ? entries.length - 1 : Math.ceil(entries.length / 2);
  const moved = entries.splice(keep);
  const blk = allocTreeBlock(vol, h, inode, node.block + 1);
  const sibling: PathNode = {
    block: blk, depth: node.depth, max: node.max,
    leaf: node.leaf ? (moved as LeafEntry[]) : null,
    index: node.index ? (moved as IndexEntry[]) : null, at: 0, fresh: true,
  };
  writeNode(vol, h, inode, sibling);
  writeNode(vol, h, inode, node);
  const parent = path[level - 1]!;
  parent.index!.splice(parent.at + 1, 0, { lblk: firstLblk(sibling)!, child: blk });
  const key = firstLblk(node)!;
  parent.index![parent.at]!.lblk = key;
  commitNode(vol, h, inode, path.slice(0, level), level - 1, appendHint);
}

/** Insert a mapping for a range that is currently a hole, merging with neighbours. */
export function insertExtent(vol: Volume, h: Handle, inode: Inode, ext: LeafEntry): void {
  const maxLen = ext.unwritten ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN;
  if (ext.len > maxLen) {
    // Callers split; keep the guard for safety.
    let done = 0;
    while (done < ext.len) {
      const n = Math.min(maxLen, ext.len - done);
      insertExtent(vol, h, inode, { lblk: ext.lblk + done, len: n, pblk: ext.pblk + done, unwritten: ext.unwritten });
      done += n;
    }
    return;
  }
  const path = findPath(vol, inode, ext.lblk);
  const leafLevel = path.length - 1;
  const leaf = path[leafLevel]!.leaf!;
  // Position: after the last entry starting before ext.
  let pos = 0;
  while (pos < leaf.length && leaf[pos]!.lblk < ext.lblk) pos++;
  const left = leaf[pos - 1];
  const right = leaf[pos];
  if (left && left.lblk + left.len > ext.lblk) corrupt('extent', `insert over a mapped range at ${ext.lblk}`, { ino: inode.ino });
  if (right && ext.lblk + ext.len > right.lblk) corrupt('extent', `insert over a mapped range at ${ext.lblk}`, { ino: inode.ino });
  const canJoin = (a: LeafEntry, b: LeafEntry) =>
    a.unwritten === b.unwritten && a.lblk + a.len === b.lblk && a.pblk + a.len === b.pblk && a.len + b.len <= maxLen;
  if (left && canJoin(left, ext)) {
    left.len += ext.len;
    if (right && canJoin(left, right)) { left.len += right.len; leaf.splice(pos, 1); }
  } else if (right && canJoin(ext, right)) {
    right.lblk = ext.lblk;
    right.pblk = ext.pblk;
    right.len += ext.len;
  } else {
    leaf.splice(pos, 0, { ...ext });
  }
  commitNode(vol, h, inode, path, leafLevel, pos === leaf.length - 1 && right === undefined);
}

/**
 * Remove mappings in [lblk, end) and return the freed physical runs (the caller
 * frees data blocks). Extents cut in the middle are split.
 */
export function removeExtents(vol: Volume, h: Handle, inode: Inode, lblk: number, end: number): { start: number; length: number }[] {
  const freed: { start: number; length: number }[] = [];
  for (let guard = 0; guard < 1 << 24; guard++) {
    const path = findPath(vol, inode, lblk);
    const leafLevel = path.length - 1;
    const leaf = path[leafLevel]!.leaf!;
    const out: LeafEntry[] = [];
    let changed = false;
    let nextFrom = Infinity;
    for (const x of leaf) {
      const xe = x.lblk + x.len;
      if (xe <= lblk || x.lblk >= end) { out.push(x); if (x.lblk >= end) nextFrom = Math.min(nextFrom, Infinity); continue; }
      changed = true;
      const cutS = Math.max(x.lblk, lblk);
      const cutE = Math.min(xe, end);
      freed.push({ start: x.pblk + (cutS - x.lblk), length: cutE - cutS });
      if (x.lblk < cutS) out.push({ lblk: x.lblk, len: cutS - x.lblk, pblk: x.pblk, unwritten: x.unwritten });
      if (cutE < xe) out.push({ lblk: cutE, len: xe - cutE, pblk: x.pblk + (cutE - x.lblk), unwritten: x.unwritten });
    }
    // Where does the next leaf (if any) start? Found from the deepest index with a next entry.
    let nextLeafStart = Infinity;
    for (let l = leafLevel - 1; l >= 0; l--) {
      const n = path[l]!;
      if (n.at + 1 < n.index!.length) { nextLeafStart = n.index![n.at + 1]!.lblk; break; }
    }
    void nextFrom;
    if (changed) {
      path[leafLevel]!.leaf = out;
      commitNode(vol, h, inode, path, leafLevel, false);
    }
    if (nextLeafStart >= end || nextLeafStart === Infinity) break;
    if (nextLeafStart <= lblk) corrupt('extent', `index keys out of order at ${nextLeafStart}`, { ino: inode.ino });
    lblk = nextLeafStart;
  }
  return freed;
}

/** Set the written/unwritten state of the mapped blocks in [lblk, end). */
export function setExtentState(vol: Volume, h: Handle, inode: Inode, lblk: number, end: number, unwritten: boolean): void {
  for (let guard = 0; guard < 1 << 24 && lblk < end; guard++) {
    const path = findPath(vol, inode, lblk);
    const leafLevel = path.length - 1;
    const leaf = path[leafLevel]!.leaf!;
    const out: LeafEntry[] = [];
    let changed = false;
    for (const x of leaf) {
      const xe = x.lblk + x.len;
      if (xe <= lblk || x.lblk >= end || x.unwritten === unwritten) { out.push(x); continue; }
      changed = true;
      const s = Math.max(x.lblk, lblk);
      const e = Math.min(xe, end);
      if (x.lblk < s) out.push({ lblk: x.lblk, len: s - x.lblk, pblk: x.pblk, unwritten: x.unwritten });
      out.push({ lblk: s, len: e - s, pblk: x.pblk + (s - x.lblk), unwritten });
      if (e < xe) out.push({ lblk: e, len: xe - e, pblk: x.pblk + (e - x.lblk), unwritten: x.unwritten });
    }
    let nextLeafStart = Infinity;
    for (let l = leafLevel - 1; l >= 0; l--) {
      const n = path[l]!;
      if (n.at + 1 < n.index!.length) { nextLeafStart = n.index![n.at + 1]!.lblk; break; }
    }
    if (changed) {
      // Merge neighbours that now agree.
      const merged: LeafEntry[] = [];
      for (const x of out) {
        const p = merged[merged.length - 1];
        const maxLen = x.unwritten ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN;
        if (p && p.unwritten === x.unwritten && p.lblk + p.len === x.lblk && p.pblk + p.len === x.pblk && p.len + x.len <= maxLen) p.len += x.len;
        else merged.push({ ...x });
      }
      path[leafLevel]!.leaf = merged;
      commitNode(vol, h, inode, path, leafLevel, false);
    }
    if (nextLeafStart >= end || nextLeafStart === Infinity) break;
    if (nextLeafStart <= lblk) corrupt('extent', `index keys out of order at ${nextLeafStart}`, { ino: inode.ino });
    lblk = nextLeafStart;
  }
}

/** An empty extent root in i_block. */
export function initExtentRoot(inode: Inode): void {
  const dv = viewOf(inode.bytes);
  inode.bytes.fill(0, I_BLOCK_OFFSET, I_BLOCK_OFFSET + 60);
  dv.setUint16(I_BLOCK_OFFSET, EXT4_EXT_MAGIC, true);
  dv.setUint16(I_BLOCK_OFFSET + 4, ROOT_MAX, true);
}

export const ENOSPC = -Errno.ENOSPC;
