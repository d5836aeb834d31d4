// The inode table: exactly one Inode object per on-disk inode (DESIGN.md).
// Documentation/filesystems/ext4/inodes.rst ("Finding an Inode").
//
// Pinning rules: an Inode is pinned while the kernel holds lookups on it
// (nlookup > 0), while it has open handles, or while an operation works on it
// (pin/unpin around the operation). Unpinned, clean inodes sit in a bounded LRU
// and may be dropped; a dirty inode is written back before it can be dropped.
import { PinnedTable } from '../cache/pinned-table.js';
import { CorruptionError, corrupt } from './errors.js';
import { Inode } from './inode.js';
import { BG_INODE_UNINIT } from './layout/group-desc.js';
import { RO_COMPAT } from './layout/features.js';
import { inodeChecksumSeed, verifyInodeChecksum } from './checksums.js';
import type { Volume } from './volume.js';

export interface InodeLocation {
  group: number;
  block: number;
  offset: number;
}

export class InodeTable {
  private table: PinnedTable<number, Inode>;

  constructor(private readonly vol: Volume, maxIdle = 4096) {
    this.table = new PinnedTable<number, Inode>(maxIdle, (_ino, inode) => {
      if (inode.dirty) this.vol.writeInodeNow(inode);
    });
  }

  /** Where inode `ino` lives on disk. */
  locate(ino: number): InodeLocation {
    const geo = this.vol.geo;
    if (!Number.isInteger(ino) || ino < 1 || ino > geo.inodesCount) {
      corrupt('inode', `inode number ${ino} out of range 1..${geo.inodesCount}`, { ino });
    }
    const group = Math.floor((ino - 1) / geo.inodesPerGroup);
    const index = (ino - 1) % geo.inodesPerGroup;
    const byte = index * geo.inodeSize;
    const table = this.vol.group(group).inodeTable;
    return { group, block: table + Math.floor(byte / geo.blockSize), offset: byte % geo.blockSize };
  }

  /** The Inode object for `ino` (loaded and checked on first use). Not pinned. */
  get(ino: number): Inode {
    return this.table.get(ino, () => this.load(ino));
  }

  /** Take a reference (kernel lookup, open handle, operation in progress). */
  pin(ino: number): Inode {
    return this.table.pin(ino, () => this.load(ino));
  }

  unpin(ino: number): void {
    this.table.unpin(ino);
  }

  /** In memory already? (no load) */
  peek(ino: number): Inode | undefined {
    return this.table.peek(ino);
  }

  /** Drop an unpinned inode object (after it was freed on disk). */
  forget(ino: number): void {
    const i = this.table.peek(ino);
    if (i) i.dirty = false;
    if (this.table.refs(ino) === 0) this.table.forget(ino);
  }

  refs(ino: number): number {
    return this.table.refs(ino);
  }

  get pinnedCount(): number { return this.table.pinnedCount; }
  get idleCount(): number { return this.table.idleCount; }
  pinned(): IterableIterator<[number, Inode]> { return this.table.pinnedEntries(); }

  private load(ino: number): Inode {
    const geo = this.vol.geo;
    const loc = this.locate(ino);
    const bytes = new Uint8Array(Math.max(geo.inodeSize, 160));
    const gd = this.vol.group(loc.group);
    const uninit = this.vol.hasGroupChecksums && (gd.flags & BG_INODE_UNINIT) !== 0;
    if (!uninit) {
      const block = this.vol.readMetaBlock(loc.block, 'inode', { ino });
      bytes.set(block.subarray(loc.offset, loc.offset + geo.inodeSize));
    }
    const inode = new Inode(ino, bytes, geo.inodeSize, (geo.roCompat & RO_COMPAT.huge_file) !== 0, geo.blockSize);
    // i_size is 64 bits on disk; the typed API holds it in a number (DESIGN.md habit 2).
    if (inode.raw.i_size_high >= 0x20_0000) corrupt('inode', `i_size_high 0x${inode.raw.i_size_high.toString(16)}: size above 2^53`, { ino, block: loc.block });
    if (geo.inodeSize > 128) {
      const extra = inode.raw.i_extra_isize;
      if (extra !== 0 && (128 + extra > geo.inodeSize || extra % 4 !== 0)) {
        corrupt('inode', `i_extra_isize ${extra} does not fit a ${geo.inodeSize}-byte inode`, { ino, block: loc.block });
      }
    }
    if (this.vol.hasMetadataCsum && !uninit && !isAllZero(bytes, geo.inodeSize)) {
      const seed = inodeChecksumSeed(this.vol.csumSeed, ino, inode.generation);
      if (!verifyInodeChecksum(seed, bytes, geo.inodeSize)) {
        this.vol.checksumFailure(new CorruptionError('checksum', 'inode checksum mismatch', { ino, block: loc.block }));
      }
    }
    return inode;
  }
}

function isAllZero(b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[i] !== 0) return false;
  return true;
}
