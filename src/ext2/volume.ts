// Opening a volume: superblock, group descriptors, features, checksums.
// Documentation/filesystems/ext4/super.rst, group_descr.rst, checksums.rst.
// The model: e2fsprogs lib/ext2fs/openfs.c and the kernel's ext4_fill_super.
import { BlockCache } from '../cache/block-cache.js';
import { FileDevice, type BlockDevice } from '../io/block-device.js';
import { Errno } from '../util/errno.js';
import { makeLogger, stderrLogger, type Logger } from '../util/log.js';
import { CorruptionError, UnsupportedError, corrupt, type CorruptionContext, type CorruptionKind } from './errors.js';
import { descriptorBlock, groupFirstBlock, groupHasSuperblock, readGeometry, type Geometry } from './geometry.js';
import { Allocator } from './alloc.js';
import { TxnManager, type Handle } from './txn.js';
import { joinU64, splitU64 } from '../util/struct.js';
import { COMPAT, INCOMPAT, INCOMPAT_SUPPORTED, RO_COMPAT, RO_COMPAT_READABLE, RO_COMPAT_WRITABLE, featureNames } from './layout/features.js';
import { GroupDescriptor } from './layout/group-desc.js';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock } from './layout/superblock.js';
import { groupDescChecksumCrc16, groupDescChecksumCrc32c, superblockChecksum, volumeChecksumSeed, inodeChecksumSeed, setInodeChecksum } from './checksums.js';
import { InodeTable } from './inode-table.js';
import { recoverAtOpen } from './journal/open.js';
import { JournalWriter } from './journal/writer.js';
import type { Inode } from './inode.js';

const silentLogger = makeLogger(() => {}, 'error');

export interface OpenOptions {
  readOnly?: boolean;
  /** Byte offset of the filesystem inside the image file. */
  offset?: number;
  /** Block cache size in bytes. */
  cacheBytes?: number;
  /** Skip journal recovery (forces read-only), like the kernel's norecovery. */
  noRecovery?: boolean;
  /** What to do on a checksum mismatch: 'error' (default) throws EUCLEAN; 'warn' logs and goes on. */
  checksums?: 'error' | 'warn';
  log?: Logger;
}

export class Volume {
  readonly sb: InstanceType<typeof Superblock>;
  /** The superblock bytes as read (kept in memory; written back by the write path). */
  readonly sbBytes: Uint8Array;
  readonly geo: Geometry;
  readonly cache: BlockCache;
  readonly inodes: InodeTable;
  private ro: boolean;
  /** No writes: asked for, forced by the image's features, or after errors=remount-ro. */
  get readOnly(): boolean { return this.ro; }
  readonly csumSeed: number;
  readonly hasMetadataCsum: boolean;
  readonly hasGroupChecksums: boolean;
  readonly hashSeed: Uint32Array;
  readonly log: Logger;
  /** Human-readable reasons the volume was forced read-only. */
  readonly readOnlyReasons: string[] = [];
  private groups: GroupDescriptor[] = [];
  /** GDT blocks held in memory for the life of the volume. */
  readonly gdtBlocks: { block: number; bytes: Uint8Array }[] = [];
  private readonly checksumPolicy: 'error' | 'warn';
  readonly backupBgs: [number, number];

  private constructor(readonly dev: BlockDevice, opts: OpenOptions) {
    this.log = opts.log ?? stderrLogger;
    this.checksumPolicy = opts.checksums ?? 'error';
    if (dev.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
      throw new UnsupportedError(`image too small (${dev.size} bytes) to hold an ext2/ext3/ext4 superblock`, Errno.EINVAL);
    }
    this.sbBytes = new Uint8Array(SUPERBLOCK_SIZE);
    dev.read(this.sbBytes, SUPERBLOCK_OFFSET);
    this.sb = new Superblock(this.sbBytes, 0);
    if (this.sb.s_magic !== 0xef53) {
      throw new UnsupportedError(`not an ext2/ext3/ext4 filesystem (superblock magic 0x${this.sb.s_magic.toString(16)}, want 0xef53)`, Errno.EINVAL);
    }
    this.geo = readGeometry(this.sb, dev.size);
    const geo = this.geo;
    this.hasMetadataCsum = (geo.roCompat & RO_COMPAT.metadata_csum) !== 0;
    this.hasGroupChecksums = this.hasMetadataCsum || (geo.roCompat & RO_COMPAT.gdt_csum) !== 0;
    if (this.hasMetadataCsum) {
      if (this.sb.s_checksum_type !== 1) corrupt('superblock', `unknown checksum type ${this.sb.s_checksum_type}`, { block: 0 });
      const want = superblockChecksum(this.sbBytes);
      if (want !== this.sb.s_checksum) {
        this.checksumFailure(new CorruptionError('checksum', `superblock checksum 0x${this.sb.s_checksum.toString(16)} != computed 0x${want.toString(16)}`, { block: 0 }));
      }
    }
    this.csumSeed = volumeChecksumSeed(this.sb.s_uuid, (geo.incompat & INCOMPAT.metadata_csum_seed) !== 0, this.sb.s_checksum_seed);
    const hs = this.sb.s_hash_seed;
    this.hashSeed = new Uint32Array(4);
    for (let i = 0; i < 4; i++) this.hashSeed[i] = (hs[i * 4]! | (hs[i * 4 + 1]! << 8) | (hs[i * 4 + 2]! << 16) | (hs[i * 4 + 3]! << 24)) >>> 0;
    const bb = this.sb.s_backup_bgs;
    this.backupBgs = [bb[0]! | (bb[1]! << 8) | (bb[2]! << 16) | (bb[3]! << 24), bb[4]! | (bb[5]! << 8) | (bb[6]! << 16) | (bb[7]! << 24)];

    // Features, as the kernel decides.
    const unknownIncompat = geo.incompat & ~INCOMPAT_SUPPORTED;
    if (unknownIncompat) {
      throw new UnsupportedError(`cannot open: unsupported incompat feature(s): ${featureNames(unknownIncompat, INCOMPAT).join(', ')}`);
    }
    if (geo.incompat & INCOMPAT.journal_dev) throw new UnsupportedError('this is an external journal device, not a filesystem');
    let readOnly = opts.readOnly ?? false;
    const notWritable = geo.roCompat & ~RO_COMPAT_WRITABLE;
    if (notWritable) {
      const names = featureNames(notWritable, RO_COMPAT).join(', ');
      if (geo.roCompat & ~RO_COMPAT_READABLE) this.log.warn(`ro_compat feature(s) ${names} not understood; reading anyway`);
      if (!readOnly) this.readOnlyReasons.push(`ro_compat feature(s) ${names} not supported for writing`);
      readOnly = true;
    }
    if (geo.compat & COMPAT.has_journal && this.sb.s_journal_inum === 0 && !this.isNullUuid(this.sb.s_journal_uuid)) {
      throw new UnsupportedError('external journal devices are not supported');
    }
    if (geo.incompat & INCOMPAT.needs_recovery) {
      if (!opts.noRecovery) {
        throw new UnsupportedError('the journal needs recovery, and journal replay is not implemented yet: run `e2fsck -fy` on the image, or open with norecovery to read it as it is (read-only)');
      }
      if (!readOnly) this.readOnlyReasons.push('norecovery on a journal that needs recovery');
      readOnly = true;
    }
    if (!readOnly && dev.readOnly) {
      this.readOnlyReasons.push('device opened read-only');
      readOnly = true;
    }
    if (!readOnly && (geo.roCompat & RO_COMPAT.bigalloc)) {
      this.readOnlyReasons.push('bigalloc is not supported for writing');
      readOnly = true;
    }
    this.ro = readOnly;
    this.cache = new BlockCache(dev, geo.blockSize, opts.cacheBytes);
    this.loadGroupDescriptors();
    this.inodes = new InodeTable(this);
    this.alloc = new Allocator(this);
    this.txn = new TxnManager(this.cache, {
      beforeCommit: () => this.beforeCommit(),
      writeFixedMetadata: () => this.writeFixedMetadata(),
      fixedMetadataBlocks: () => this.fixedMetadataBlocks(),
      log: this.log,
    });
    if (!readOnly && (geo.compat & COMPAT.has_journal) && this.sb.s_journal_inum !== 0) {
      this.txn.attachJournal(JournalWriter.open(this));
    }
  }

  readonly alloc: Allocator;
  readonly txn: TxnManager;
  private dirtyGdtBlocks = new Set<number>();

  /** Blocks reserved for root (s_r_blocks_count). */
  get reservedBlocks(): number {
    return joinU64(this.sb.s_r_blocks_count_lo, this.has('incompat', INCOMPAT['64bit']) ? this.sb.s_r_blocks_count_hi : 0);
  }

  /** GDT blocks (and reserved GDT blocks are separate) stored after a superblock copy in group g. */
  gdtBlocksInGroup(g: number): number {
    if (!this.groupHasSuperblock(g)) return 0;
    return Math.min(this.geo.gdtBlocks, this.geo.firstMetaBg);
  }

  /** With meta_bg: the descriptor block stored in group g (first, second and last group of a metagroup), else null. */
  metaBgDescriptorIn(g: number): number | null {
    const geo = this.geo;
    if (!this.has('incompat', INCOMPAT.meta_bg)) return null;
    const m = Math.floor(g / geo.descPerBlock);
    if (m < geo.firstMetaBg) return null;
    const r = g % geo.descPerBlock;
    if (r !== 0 && r !== 1 && r !== geo.descPerBlock - 1) return null;
    return groupFirstBlock(geo, g) + (this.groupHasSuperblock(g) ? 1 : 0);
  }

  /** Where to start looking for an inode's blocks (ext4_inode_to_goal_block, simplified). */
  inodeGoalBlock(inode: Inode): number {
    let g = Math.floor((inode.ino - 1) / this.geo.inodesPerGroup);
    if (this.geo.groupsPerFlex > 1) g -= g % this.geo.groupsPerFlex;
    return groupFirstBlock(this.geo, g);
  }

  markDescriptorDirty(g: number): void {
    this.dirtyGdtBlocks.add(Math.floor(g / this.geo.descPerBlock));
  }

  /** Write an inode's bytes (with a fresh checksum) into its table block, within handle h. */
  writeInode(h: Handle, inode: Inode): void {
    if (this.readOnly) throw new UnsupportedError('read-only volume', Errno.EROFS);
    const loc = this.inodes.locate(inode.ino);
    const size = this.geo.inodeSize;
    if (this.hasMetadataCsum) setInodeChecksum(this.inodeSeed(inode), inode.bytes, size);
    const block = h.getWrite(loc.block);
    block.set(inode.bytes.subarray(0, size), loc.offset);
    h.dirty(loc.block, block);
    inode.dirty = false;
  }

  /** Zero a never-used inode slot (itable_unused bookkeeping). */
  zeroInodeSlot(h: Handle, ino: number): void {
    const loc = this.inodes.locate(ino);
    const block = h.getWrite(loc.block);
    block.fill(0, loc.offset, loc.offset + this.geo.inodeSize);
    h.dirty(loc.block, block);
  }

  private beforeCommit(): void {
    this.alloc.refreshGroupChecksums();
  }

  /** Free counts, write time and checksum into the in-memory superblock. */
  private refreshSuperblock(): void {
    const [fbLo, fbHi] = splitU64(this.alloc.freeBlocksTotal);
    this.sb.s_free_blocks_count_lo = fbLo;
    if (this.has('incompat', INCOMPAT['64bit'])) this.sb.s_free_blocks_count_hi = fbHi;
    this.sb.s_free_inodes_count = this.alloc.freeInodesTotal;
    this.sb.s_wtime = Math.floor(Date.now() / 1000) >>> 0;
    if (this.hasMetadataCsum) this.sb.s_checksum = superblockChecksum(this.sbBytes);
  }

  /** Journaled commits: the superblock's block and the dirty descriptor blocks, as whole-block copies. */
  private fixedMetadataBlocks(): { nr: number; data: Uint8Array }[] {
    this.refreshSuperblock();
    const bs = this.geo.blockSize;
    const sbBlock = Math.floor(SUPERBLOCK_OFFSET / bs);
    const data = this.cache.get(sbBlock).slice();
    data.set(this.sbBytes, SUPERBLOCK_OFFSET % bs);
    const out = [{ nr: sbBlock, data }];
    for (const i of [...this.dirtyGdtBlocks].sort((a, b) => a - b)) {
      const { block, bytes } = this.gdtBlocks[i]!;
      out.push({ nr: block, data: bytes.slice() });
    }
    this.dirtyGdtBlocks.clear();
    return out;
  }

  /** Superblock (free counts, write time, checksum) and dirty descriptor blocks, in place. */
  private writeFixedMetadata(): void {
    this.refreshSuperblock();
    const bs = this.geo.blockSize;
    for (const i of [...this.dirtyGdtBlocks].sort((a, b) => a - b)) {
      const { block, bytes } = this.gdtBlocks[i]!;
      this.dev.write(bytes, block * bs);
      this.cache.invalidate(block);
    }
    this.dirtyGdtBlocks.clear();
    this.dev.write(this.sbBytes, SUPERBLOCK_OFFSET);
    this.cache.invalidate(Math.floor(SUPERBLOCK_OFFSET / bs));
  }

  /**
   * errors=remount-ro: stop writing at once. The running transaction is dropped
   * (it may hold half an operation); the image keeps its last commit.
   */
  forceReadOnly(reason: string): void {
    if (this.ro) return;
    this.ro = true;
    this.readOnlyReasons.push(reason);
    this.txn.aborted = true;
    this.log.error(`remounted read-only: ${reason}`);
  }

  /** Commit pending metadata (a sync point: fsync, syncfs, unmount). */
  sync(): void {
    if (!this.readOnly) this.txn.commit();
  }

  static open(source: string | BlockDevice, opts: OpenOptions = {}): Volume {
    let dev: BlockDevice;
    if (typeof source === 'string') {
      try {
        dev = new FileDevice(source, opts.readOnly ?? true, opts.offset ?? 0);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new UnsupportedError(`cannot open ${source}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, Errno.ENOENT);
      }
    } else {
      dev = source;
    }
    try {
      dev = recoverAtOpen(dev, { readOnly: opts.readOnly ?? typeof source === 'string', noRecovery: opts.noRecovery, log: opts.log ?? stderrLogger },
        (d) => new Volume(d, { readOnly: true, noRecovery: true, checksums: 'warn', log: silentLogger }));
      return new Volume(dev, opts);
    } catch (e) {
      if (typeof source === 'string') dev.close();
      throw e;
    }
  }

  close(): void {
    if (!this.readOnly) this.txn.close();
    this.dev.close();
  }

  private isNullUuid(u: Uint8Array): boolean {
    return u.every((b) => b === 0);
  }

  get blockSize(): number { return this.geo.blockSize; }

  /** Called on a checksum mismatch: throw (default) or log, by the open option. */
  checksumFailure(err: CorruptionError): void {
    if (this.checksumPolicy === 'error') throw err;
    this.log.warn(err.message);
  }

  /** A metadata block, with its number checked against the volume (no reads past the end). */
  readMetaBlock(nr: number, kind: CorruptionKind, ctx: CorruptionContext = {}): Uint8Array {
    if (!Number.isInteger(nr) || nr < this.geo.firstDataBlock || nr >= this.geo.blocksCount) {
      corrupt(kind, `block number ${nr} outside the volume (${this.geo.firstDataBlock}..${this.geo.blocksCount - 1})`, { ...ctx, block: nr });
    }
    return this.cache.get(nr);
  }

  /** Is `nr` a valid data block number? */
  validBlock(nr: number): boolean {
    return nr >= this.geo.firstDataBlock && nr < this.geo.blocksCount;
  }

  group(g: number): GroupDescriptor {
    const d = this.groups[g];
    if (d === undefined) corrupt('group-descriptor', `group ${g} out of range 0..${this.geo.groupCount - 1}`, { group: g });
    return d;
  }

  get groupCount(): number { return this.geo.groupCount; }

  private loadGroupDescriptors(): void {
    const geo = this.geo;
    const bs = geo.blockSize;
    for (let i = 0; i < geo.gdtBlocks; i++) {
      const block = descriptorBlock(geo, this.backupBgs, i);
      if (block >= geo.blocksCount) corrupt('group-descriptor', `descriptor block ${block} outside the volume`, { block });
      const bytes = new Uint8Array(bs);
      this.dev.read(bytes, block * bs);
      this.gdtBlocks.push({ block, bytes });
      for (let j = 0; j < geo.descPerBlock; j++) {
        const g = i * geo.descPerBlock + j;
        if (g >= geo.groupCount) break;
        this.groups.push(new GroupDescriptor(bytes, j * geo.descSize, geo.descSize, g));
      }
    }
    const itb = geo.inodeTableBlocks;
    for (const gd of this.groups) {
      const g = gd.group;
      const ctx = { group: g };
      const inRange = (b: number) => b >= geo.firstDataBlock && b < geo.blocksCount;
      // A damaged hi half makes the 64-bit getters throw a RangeError (above 2^53): that is corruption.
      try { void gd.blockBitmap; void gd.inodeBitmap; void gd.inodeTable; } catch (e) {
        if (e instanceof RangeError) corrupt('group-descriptor', `block number above 2^53: ${e.message}`, ctx);
        throw e;
      }
      if (!inRange(gd.blockBitmap)) corrupt('group-descriptor', `block bitmap at ${gd.blockBitmap} is outside the volume`, ctx);
      if (!inRange(gd.inodeBitmap)) corrupt('group-descriptor', `inode bitmap at ${gd.inodeBitmap} is outside the volume`, ctx);
      if (!inRange(gd.inodeTable) || gd.inodeTable + itb > geo.blocksCount) {
        corrupt('group-descriptor', `inode table at ${gd.inodeTable} (+${itb}) is outside the volume`, ctx);
      }
      if (gd.freeInodes > geo.inodesPerGroup) corrupt('group-descriptor', `free inode count ${gd.freeInodes} > ${geo.inodesPerGroup}`, ctx);
      this.verifyGroupChecksum(gd);
    }
  }

  groupChecksum(gd: GroupDescriptor): number {
    return this.hasMetadataCsum
      ? groupDescChecksumCrc32c(this.csumSeed, gd.group, gd.raw_bytes)
      : groupDescChecksumCrc16(this.sb.s_uuid, gd.group, gd.raw_bytes);
  }

  private verifyGroupChecksum(gd: GroupDescriptor): void {
    if (!this.hasGroupChecksums) return;
    const want = this.groupChecksum(gd);
    if (want !== gd.checksum) {
      this.checksumFailure(new CorruptionError('checksum',
        `group descriptor checksum 0x${gd.checksum.toString(16)} != computed 0x${want.toString(16)}`, { group: gd.group }));
    }
  }

  /** Does group g carry a superblock backup? */
  groupHasSuperblock(g: number): boolean {
    return groupHasSuperblock(this.geo, this.backupBgs, g);
  }

  /** Per-inode checksum seed (metadata_csum). */
  inodeSeed(inode: Inode): number {
    return inodeChecksumSeed(this.csumSeed, inode.ino, inode.generation);
  }

  has(kind: 'compat' | 'incompat' | 'roCompat', bit: number): boolean {
    return (this.geo[kind] & bit) !== 0;
  }

  /** Write an inode dropped from the table while dirty (should not happen: writers write at once). */
  writeInodeNow(inode: Inode): void {
    const h = this.txn.begin();
    try { this.writeInode(h, inode); } finally { this.txn.end(h); }
  }
}
