// Block and inode allocation: bitmaps, group descriptor and superblock counters.
// Documentation/filesystems/ext4/overview.rst ("Block and Inode Allocation Policy"),
// group_descr.rst (uninit flags, itable_unused), bitmaps.rst.
//
// Counters change in memory; groups touched are remembered and their bitmap and
// descriptor checksums refreshed at commit (Volume.beforeCommit).
import { Errno } from '../util/errno.js';
import { CorruptionError, corrupt } from './errors.js';
import { BG_BLOCK_UNINIT, BG_INODE_UNINIT, type GroupDescriptor } from './layout/group-desc.js';
import { groupFirstBlock, groupBlockCount } from './geometry.js';
import { bitmapChecksum } from './checksums.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

export interface Extent {
  start: number;
  length: number;
}

function setBit(b: Uint8Array, i: number): void { b[i >> 3]! |= 1 << (i & 7); }
function clearBit(b: Uint8Array, i: number): void { b[i >> 3]! &= ~(1 << (i & 7)); }
export function testBit(b: Uint8Array, i: number): boolean { return (b[i >> 3]! & (1 << (i & 7))) !== 0; }

/** First zero bit in [from, to), or -1. Skips full bytes quickly. */
export function findZero(b: Uint8Array, from: number, to: number): number {
  let i = from;
  while (i < to) {
    if ((i & 7) === 0) {
      while (i + 8 <= to && b[i >> 3] === 0xff) i += 8;
      if (i >= to) break;
    }
    if (!testBit(b, i)) return i;
    i++;
  }
  return -1;
}

export class Allocator {
  /** Groups whose bitmaps/descriptors changed since the last commit. */
  readonly dirtyGroups = new Set<number>();
  freeBlocksTotal: number;
  freeInodesTotal: number;

  constructor(private readonly vol: Volume) {
    let fb = 0;
    let fi = 0;
    for (let g = 0; g < vol.groupCount; g++) { fb += vol.group(g).freeBlocks; fi += vol.group(g).freeInodes; }
    this.freeBlocksTotal = fb;
    this.freeInodesTotal = fi;
  }

  private get geo() { return this.vol.geo; }

  // ---- bitmaps ---------------------------------------------------------------

  /** The block bitmap of group g, verified; initialised if BLOCK_UNINIT. */
  blockBitmap(g: number, h?: Handle): Uint8Array {
    const gd = this.vol.group(g);
    if (this.vol.hasGroupChecksums && gd.flags & BG_BLOCK_UNINIT) {
      if (!h) return this.uninitBlockBitmap(g);
      const b = h.getNew(gd.blockBitmap);
      b.set(this.uninitBlockBitmap(g));
      gd.flags = gd.flags & ~BG_BLOCK_UNINIT;
      this.dirtyGroups.add(g);
      return b;
    }
    const b = this.vol.readMetaBlock(gd.blockBitmap, 'bitmap', { group: g });
    if (this.vol.hasMetadataCsum && !this.vol.cache.isDirty(gd.blockBitmap) && !this.verified.has(b)) {
      const want = bitmapChecksum(this.vol.csumSeed, b, this.geo.blocksPerGroup / 8);
      const got = gd.blockBitmapCsum;
      const mask = this.geo.descSize >= 64 ? 0xffffffff : 0xffff;
      if (((want & mask) >>> 0) !== got) {
        this.vol.checksumFailure(new CorruptionError('checksum', `block bitmap checksum 0x${got.toString(16)} != 0x${(want & mask).toString(16)}`, { group: g, block: gd.blockBitmap }));
      }
      this.verified.add(b);
    }
    return b;
  }
  private verified = new WeakSet<Uint8Array>();

  inodeBitmap(g: number, h?: Handle): Uint8Array {
    const gd = this.vol.group(g);
    if (this.vol.hasGroupChecksums && gd.flags & BG_INODE_UNINIT) {
      const fresh = new Uint8Array(this.geo.blockSize);
      for (let i = this.geo.inodesPerGroup; i < this.geo.blockSize * 8; i++) setBit(fresh, i);
      if (!h) return fresh;
      const b = h.getNew(gd.inodeBitmap);
      b.set(fresh);
      gd.flags = gd.flags & ~BG_INODE_UNINIT;
      this.dirtyGroups.add(g);
      return b;
    }
    const b = this.vol.readMetaBlock(gd.inodeBitmap, 'bitmap', { group: g });
    if (this.vol.hasMetadataCsum && !this.vol.cache.isDirty(gd.inodeBitmap) && !this.verified.has(b)) {
      const want = bitmapChecksum(this.vol.csumSeed, b, this.geo.inodesPerGroup / 8);
      const mask = this.geo.descSize >= 64 ? 0xffffffff : 0xffff;
      if (((want & mask) >>> 0) !== gd.inodeBitmapCsum) {
        this.vol.checksumFailure(new CorruptionError('checksum', `inode bitmap checksum mismatch`, { group: g, block: gd.inodeBitmap }));
      }
      this.verified.add(b);
    }
    return b;
  }

  /** What a BLOCK_UNINIT group's bitmap must say: its own metadata in use, padding set. */
  private uninitBlockBitmap(g: number): Uint8Array {
    const geo = this.geo;
    const b = new Uint8Array(geo.blockSize);
    const first = groupFirstBlock(geo, g);
    const count = groupBlockCount(geo, g);
    for (let i = count; i < geo.blockSize * 8; i++) setBit(b, i);
    const mark = (blk: number, n = 1) => {
      for (let k = 0; k < n; k++) if (blk + k >= first && blk + k < first + count) setBit(b, blk + k - first);
    };
    if (this.vol.groupHasSuperblock(g)) mark(first, 1 + this.vol.gdtBlocksInGroup(g) + geo.reservedGdtBlocks);
    else if (this.vol.metaBgDescriptorIn(g) !== null) mark(this.vol.metaBgDescriptorIn(g)!);
    for (let o = 0; o < geo.groupCount; o++) {
      const od = this.vol.group(o);
      mark(od.blockBitmap);
      mark(od.inodeBitmap);
      mark(od.inodeTable, geo.inodeTableBlocks);
    }
    return b;
  }

  /** Refresh bitmap checksums and descriptor checksums of the dirty groups (at commit). */
  refreshGroupChecksums(): void {
    for (const g of this.dirtyGroups) {
      const gd = this.vol.group(g);
      if (this.vol.hasMetadataCsum) {
        if (!(gd.flags & BG_BLOCK_UNINIT)) {
          gd.blockBitmapCsum = bitmapChecksum(this.vol.csumSeed, this.vol.cache.get(gd.blockBitmap), this.geo.blocksPerGroup / 8);
        }
        if (!(gd.flags & BG_INODE_UNINIT)) {
          gd.inodeBitmapCsum = bitmapChecksum(this.vol.csumSeed, this.vol.cache.get(gd.inodeBitmap), this.geo.inodesPerGroup / 8);
        }
      }
      if (this.vol.hasGroupChecksums) gd.checksum = this.vol.groupChecksum(gd);
      this.vol.markDescriptorDirty(g);
    }
    this.dirtyGroups.clear();
  }

  // ---- blocks ----------------------------------------------------------------

  groupOfBlock(blk: number): number {
    return Math.floor((blk - this.geo.firstDataBlock) / this.geo.blocksPerGroup);
  }

  /**
   * Allocate up to `want` contiguous blocks, as near `goal` as possible.
   * Returns the run, or -ENOSPC. `reserved`: may dip into the root reserve.
   */
  allocBlocks(h: Handle, goal: number, want: number, reserved = true): Extent | number {
    const geo = this.geo;
    if (want < 1) throw new RangeError('allocBlocks: want < 1');
    const reserve = reserved ? 0 : this.vol.reservedBlocks;
    if (this.freeBlocksTotal <= reserve) return -Errno.ENOSPC;
    want = Math.min(want, this.freeBlocksTotal - reserve);
    if (!(goal >= geo.firstDataBlock && goal < geo.blocksCount)) goal = geo.firstDataBlock;
    const g0 = this.groupOfBlock(goal);
    for (let k = 0; k <= geo.groupCount; k++) {
      const g = (g0 + k) % geo.groupCount;
      const gd = this.vol.group(g);
      if (gd.freeBlocks === 0) continue;
      const bitmap = this.blockBitmap(g);
      const count = groupBlockCount(geo, g);
      const from = k === 0 ? goal - groupFirstBlock(geo, g) : 0;
      let bit = findZero(bitmap, from, count);
      if (bit < 0 && k === 0 && from > 0) bit = findZero(bitmap, 0, from);
      if (bit < 0) {
        if (gd.freeBlocks > 0) this.vol.log.warn(`group ${g} descriptor says ${gd.freeBlocks} free blocks, bitmap has none`);
        continue;
      }
      let len = 1;
      while (len < want && bit + len < count && !testBit(bitmap, bit + len)) len++;
      const wb = this.blockBitmap(g, h);
      const writable = h.getWrite(gd.blockBitmap);
      for (let i = 0; i < len; i++) setBit(writable, bit + i);
      h.dirty(gd.blockBitmap, writable);
      void wb;
      gd.freeBlocks = gd.freeBlocks - len;
      this.freeBlocksTotal -= len;
      this.dirtyGroups.add(g);
      h.dirtyFixed();
      return { start: groupFirstBlock(geo, g) + bit, length: len };
    }
    return -Errno.ENOSPC;
  }

  /** Free a run of blocks (they may span groups). Freed metadata must be forgotten by the caller. */
  freeBlocks(h: Handle, start: number, length: number): void {
    const geo = this.geo;
    if (start < geo.firstDataBlock || start + length > geo.blocksCount || length < 0) {
      corrupt('bitmap', `freeing blocks ${start}+${length} outside the volume`, { block: start });
    }
    let blk = start;
    let left = length;
    while (left > 0) {
      const g = this.groupOfBlock(blk);
      const gd = this.vol.group(g);
      const first = groupFirstBlock(geo, g);
      const n = Math.min(left, first + groupBlockCount(geo, g) - blk);
      this.blockBitmap(g, h);
      const b = h.getWrite(gd.blockBitmap);
      let freed = 0;
      for (let i = 0; i < n; i++) {
        const bit = blk - first + i;
        if (!testBit(b, bit)) {
          this.vol.log.error(`freeing block ${blk + i} which is already free (group ${g})`);
          continue;
        }
        clearBit(b, bit);
        freed++;
      }
      h.dirty(gd.blockBitmap, b);
      gd.freeBlocks = gd.freeBlocks + freed;
      this.freeBlocksTotal += freed;
      this.dirtyGroups.add(g);
      blk += n;
      left -= n;
    }
    h.dirtyFixed();
  }

  isBlockInUse(blk: number): boolean {
    const g = this.groupOfBlock(blk);
    return testBit(this.blockBitmap(g), blk - groupFirstBlock(this.geo, g));
  }

  // ---- inodes ----------------------------------------------------------------

  /** Choose a group for a new inode (a simple Orlov: spread top-level dirs, keep the rest near the parent). */
  private pickGroup(parentIno: number, isDir: boolean): number[] {
    const geo = this.geo;
    const n = geo.groupCount;
    const parentGroup = Math.floor((parentIno - 1) / geo.inodesPerGroup);
    const order: number[] = [];
    if (isDir && parentIno === 2 && n > 1) {
      const avgFreeInodes = this.freeInodesTotal / n;
      const avgFreeBlocks = this.freeBlocksTotal / n;
      let best = -1;
      let bestScore = -Infinity;
      for (let g = 0; g < n; g++) {
        const gd = this.vol.group(g);
        if (gd.freeInodes === 0) continue;
        if (gd.freeInodes < avgFreeInodes || gd.freeBlocks < avgFreeBlocks) continue;
        const score = gd.freeInodes - gd.usedDirs * 4;
        if (score > bestScore) { bestScore = score; best = g; }
      }
      if (best >= 0) order.push(best);
    }
    for (let k = 0; k < n; k++) order.push((parentGroup + k) % n);
    return order;
  }

  /** Allocate an inode number near `parentIno`. Returns the number or -ENOSPC. */
  allocInode(h: Handle, parentIno: number, isDir: boolean): number {
    const geo = this.geo;
    if (this.freeInodesTotal === 0) return -Errno.ENOSPC;
    for (const g of this.pickGroup(parentIno, isDir)) {
      const gd = this.vol.group(g);
      if (gd.freeInodes === 0) continue;
      const first = g === 0 ? geo.firstIno - 1 : 0;
      const bitmap = this.inodeBitmap(g);
      const bit = findZero(bitmap, first, geo.inodesPerGroup);
      if (bit < 0) continue;
      this.inodeBitmap(g, h);
      const b = h.getWrite(gd.inodeBitmap);
      setBit(b, bit);
      h.dirty(gd.inodeBitmap, b);
      gd.freeInodes = gd.freeInodes - 1;
      if (isDir) gd.usedDirs = gd.usedDirs + 1;
      this.freeInodesTotal--;
      if (this.vol.hasGroupChecksums) this.claimItableSlot(h, gd, bit);
      this.dirtyGroups.add(g);
      h.dirtyFixed();
      return g * geo.inodesPerGroup + bit + 1;
    }
    return -Errno.ENOSPC;
  }

  /** Move the itable_unused boundary past `index`, zeroing the never-used inodes skipped. */
  private claimItableSlot(h: Handle, gd: GroupDescriptor, index: number): void {
    const geo = this.geo;
    const boundary = geo.inodesPerGroup - gd.itableUnused;
    if (index < boundary) return;
    for (let i = boundary; i <= index; i++) this.vol.zeroInodeSlot(h, gd.group * geo.inodesPerGroup + i + 1);
    gd.itableUnused = geo.inodesPerGroup - index - 1;
  }

  freeInode(h: Handle, ino: number, wasDir: boolean): void {
    const geo = this.geo;
    const g = Math.floor((ino - 1) / geo.inodesPerGroup);
    const bit = (ino - 1) % geo.inodesPerGroup;
    const gd = this.vol.group(g);
    this.inodeBitmap(g, h);
    const b = h.getWrite(gd.inodeBitmap);
    if (!testBit(b, bit)) {
      this.vol.log.error(`freeing inode ${ino} which is already free`);
      return;
    }
    clearBit(b, bit);
    h.dirty(gd.inodeBitmap, b);
    gd.freeInodes = gd.freeInodes + 1;
    if (wasDir) gd.usedDirs = Math.max(0, gd.usedDirs - 1);
    this.freeInodesTotal++;
    this.dirtyGroups.add(g);
    h.dirtyFixed();
  }

  isInodeInUse(ino: number): boolean {
    const g = Math.floor((ino - 1) / this.geo.inodesPerGroup);
    return testBit(this.inodeBitmap(g), (ino - 1) % this.geo.inodesPerGroup);
  }
}
