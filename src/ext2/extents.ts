// Reading extent trees: Documentation/filesystems/ext4/ifork.rst ("Extent Tree").
// Every node is checked as the kernel's __ext4_ext_check does (magic, depth,
// eh_max for its room, entries in order and in range, tail checksum); a node
// whose depth is not exactly one below its parent's is damage, which also makes
// loops impossible. Full walks are bounded by the volume's block count.
import { CorruptionError, corrupt } from './errors.js';
import { I_BLOCK_OFFSET, type Inode } from './inode.js';
import { EXT4_EXT_MAGIC, EXT4_MAX_EXTENT_DEPTH, EXT_INIT_MAX_LEN, ExtentHeader } from './layout/extent.js';
import { extentBlockChecksum } from './checksums.js';
import type { Volume } from './volume.js';
import { viewOf } from '../util/struct.js';

/** A mapped run of a file: `length` blocks from `logical` at `physical` (0 = hole). */
export interface Run {
  logical: number;
  physical: number;
  length: number;
  unwritten: boolean;
}

/** One node of an extent tree (for inspect and checks). */
export interface ExtentNode {
  /** 0 for the root in the inode. */
  block: number;
  depth: number;
  entries: number;
  max: number;
}

const MAX_LBLK = 0xffffffff;
const verified = new WeakSet<Uint8Array>();

function checkNode(vol: Volume, inode: Inode, buf: Uint8Array, off: number, room: number, block: number, wantDepth: number | null): InstanceType<typeof ExtentHeader> {
  const ctx = { ino: inode.ino, block: block || undefined };
  const h = new ExtentHeader(buf, off);
  if (h.eh_magic !== EXT4_EXT_MAGIC) corrupt('extent', `bad extent header magic 0x${h.eh_magic.toString(16)}`, ctx);
  const maxRoom = Math.floor((room - 12) / 12);
  if (h.eh_max === 0 || h.eh_max > maxRoom) corrupt('extent', `eh_max ${h.eh_max} does not fit its ${room}-byte node`, ctx);
  if (block !== 0 && h.eh_max < maxRoom - 2) {
    // The kernel insists on the exact room for blocks (ext4_ext_max_entries); allow e2fsprogs' tail reserve.
    corrupt('extent', `eh_max ${h.eh_max} too small for a tree block (${maxRoom})`, ctx);
  }
  if (h.eh_entries > h.eh_max) corrupt('extent', `eh_entries ${h.eh_entries} > eh_max ${h.eh_max}`, ctx);
  if (h.eh_depth > EXT4_MAX_EXTENT_DEPTH) corrupt('extent', `depth ${h.eh_depth} > ${EXT4_MAX_EXTENT_DEPTH}`, ctx);
  if (wantDepth !== null && h.eh_depth !== wantDepth) corrupt('extent', `node depth ${h.eh_depth}, expected ${wantDepth}`, ctx);
  if (block !== 0 && vol.hasMetadataCsum && !verified.has(buf)) {
    const tailOff = 12 + 12 * h.eh_max;
    if (tailOff + 4 <= vol.blockSize) {
      const stored = viewOf(buf).getUint32(tailOff, true);
      const want = extentBlockChecksum(vol.inodeSeed(inode), buf, h.eh_max);
      if (stored !== want) {
        vol.checksumFailure(new CorruptionError('checksum', `extent block checksum 0x${stored.toString(16)} != 0x${want.toString(16)}`, ctx));
      }
    }
  }
  // Entries in order and in range.
  const dv = viewOf(buf);
  let prevEnd = -1;
  for (let i = 0; i < h.eh_entries; i++) {
    const e = off + 12 + i * 12;
    const lblk = dv.getUint32(e, true);
    if (h.eh_depth === 0) {
      const rawLen = dv.getUint16(e + 4, true);
      const len = rawLen > EXT_INIT_MAX_LEN ? rawLen - EXT_INIT_MAX_LEN : rawLen;
      const pblk = dv.getUint16(e + 6, true) * 0x1_0000_0000 + dv.getUint32(e + 8, true);
      if (len === 0) corrupt('extent', `extent ${i} has length 0`, ctx);
      if (lblk <= prevEnd) corrupt('extent', `extent ${i} (logical ${lblk}) overlaps or is out of order`, ctx);
      if (lblk + len - 1 > MAX_LBLK) corrupt('extent', `extent ${i} runs past the last logical block`, ctx);
      if (!vol.validBlock(pblk) || !vol.validBlock(pblk + len - 1)) {
        corrupt('extent', `extent ${i} maps blocks ${pblk}..${pblk + len - 1} outside the volume`, ctx);
      }
      prevEnd = lblk + len - 1;
    } else {
      const leaf = dv.getUint16(e + 8, true) * 0x1_0000_0000 + dv.getUint32(e + 4, true);
      if (lblk <= prevEnd) corrupt('extent', `index ${i} (logical ${lblk}) out of order`, ctx);
      if (!vol.validBlock(leaf)) corrupt('extent', `index ${i} points at block ${leaf} outside the volume`, ctx);
      prevEnd = lblk;
    }
  }
  if (block !== 0) verified.add(buf);
  return h;
}


function readTreeBlock(vol: Volume, inode: Inode, nr: number): Uint8Array {
  return vol.readMetaBlock(nr, 'extent', { ino: inode.ino });
}

/** The run containing logical block `lblk`: a mapped run, or a hole up to the next mapping. */
export function extentRunAt(vol: Volume, inode: Inode, lblk: number): Run {
  // Past the last block an extent can map (reads under a damaged i_size): one long hole,
  // never a run of negative length.
  if (lblk > MAX_LBLK) return { logical: lblk, physical: 0, length: 2 ** 32, unwritten: false };
  let buf = inode.bytes;
  let off = I_BLOCK_OFFSET;
  let room = 60;
  let block = 0;
  let want: number | null = null;
  let nextStart = MAX_LBLK + 1; // the first mapped logical block after lblk, as known so far
  for (let level = 0; level <= EXT4_MAX_EXTENT_DEPTH; level++) {
    const h = checkNode(vol, inode, buf, off, room, block, want);
    const dv = viewOf(buf);
    const n = h.eh_entries;
    // Binary search: last entry with start <= lblk.
    let lo = 0;
    let hi = n - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (dv.getUint32(off + 12 + mid * 12, true) <= lblk) { idx = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (idx + 1 < n) nextStart = Math.min(nextStart, dv.getUint32(off + 12 + (idx + 1) * 12, true));
    if (h.eh_depth === 0) {
      if (idx >= 0) {
        const e = off + 12 + idx * 12;
        const start = dv.getUint32(e, true);
        const rawLen = dv.getUint16(e + 4, true);
        const unwritten = rawLen > EXT_INIT_MAX_LEN;
        const len = unwritten ? rawLen - EXT_INIT_MAX_LEN : rawLen;
        if (lblk < start + len) {
          const pblk = dv.getUint16(e + 6, true) * 0x1_0000_0000 + dv.getUint32(e + 8, true);
          return { logical: lblk, physical: pblk + (lblk - start), length: start + len - lblk, unwritten };
        }
      }
      return { logical: lblk, physical: 0, length: nextStart - lblk, unwritten: false };
    }
    if (idx < 0) return { logical: lblk, physical: 0, length: nextStart - lblk, unwritten: false };
    const e = off + 12 + idx * 12;
    const leaf = dv.getUint16(e + 8, true) * 0x1_0000_0000 + dv.getUint32(e + 4, true);
    want = h.eh_depth - 1;
    buf = readTreeBlock(vol, inode, leaf);
    off = 0;
    room = vol.blockSize;
    block = leaf;
  }
  return corrupt('extent', 'extent tree deeper than the kernel allows', { ino: inode.ino });
}

/**
 * Visit every extent in logical order (holes are not reported) and every tree node.
 * Bounded: more nodes or blocks than the volume holds is damage.
 */
export function walkExtents(vol: Volume, inode: Inode, onRun: (r: Run) => void, onNode?: (n: ExtentNode) => void): void {
  let budget = vol.geo.blocksCount;
  const visit = (buf: Uint8Array, off: number, room: number, block: number, want: number | null): void => {
    const h = checkNode(vol, inode, buf, off, room, block, want);
    onNode?.({ block, depth: h.eh_depth, entries: h.eh_entries, max: h.eh_max });
    const dv = viewOf(buf);
    const n = h.eh_entries;
    const depth = h.eh_depth;
    for (let i = 0; i < n; i++) {
      const e = off + 12 + i * 12;
      const start = dv.getUint32(e, true);
      if (depth === 0) {
        const rawLen = dv.getUint16(e + 4, true);
        const unwritten = rawLen > EXT_INIT_MAX_LEN;
        const len = unwritten ? rawLen - EXT_INIT_MAX_LEN : rawLen;
        budget -= len;
        if (budget < 0) corrupt('extent', 'extent tree maps more blocks than the volume holds', { ino: inode.ino });
        onRun({ logical: start, physical: dv.getUint16(e + 6, true) * 0x1_0000_0000 + dv.getUint32(e + 8, true), length: len, unwritten });
      } else {
        const leaf = dv.getUint16(e + 8, true) * 0x1_0000_0000 + dv.getUint32(e + 4, true);
        if (--budget < 0) corrupt('extent', 'extent tree has more nodes than the volume holds', { ino: inode.ino });
        // Copy: a deep walk may evict the parent's cached block.
        const child = readTreeBlock(vol, inode, leaf).slice();
        visit(child, 0, vol.blockSize, leaf, depth - 1);
      }
    }
  };
  visit(inode.bytes, I_BLOCK_OFFSET, 60, 0, null);
}
