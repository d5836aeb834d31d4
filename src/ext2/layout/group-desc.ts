// Block group descriptors: Documentation/filesystems/ext4/group_descr.rst.
// 32 bytes, or s_desc_size (>= 64) with the 64bit feature; the hi halves exist
// only in the long form, so the typed accessors below combine them in one place.
import { defineStruct, joinU64, splitU64 } from '../../util/struct.js';

export const GroupDesc = defineStruct('ext4_group_desc', 64, [
  { name: 'bg_block_bitmap_lo', offset: 0x0, type: 'u32', doc: 'Location of block bitmap' },
  { name: 'bg_inode_bitmap_lo', offset: 0x4, type: 'u32', doc: 'Location of inode bitmap' },
  { name: 'bg_inode_table_lo', offset: 0x8, type: 'u32', doc: 'Location of inode table' },
  { name: 'bg_free_blocks_count_lo', offset: 0xc, type: 'u16', doc: 'Free block count' },
  { name: 'bg_free_inodes_count_lo', offset: 0xe, type: 'u16', doc: 'Free inode count' },
  { name: 'bg_used_dirs_count_lo', offset: 0x10, type: 'u16', doc: 'Directory count' },
  { name: 'bg_flags', offset: 0x12, type: 'u16', doc: 'INODE_UNINIT 1, BLOCK_UNINIT 2, INODE_ZEROED 4' },
  { name: 'bg_exclude_bitmap_lo', offset: 0x14, type: 'u32', doc: 'Snapshot exclusion bitmap' },
  { name: 'bg_block_bitmap_csum_lo', offset: 0x18, type: 'u16', doc: 'crc32c(s_uuid+grp_num+bbitmap) LE' },
  { name: 'bg_inode_bitmap_csum_lo', offset: 0x1a, type: 'u16', doc: 'crc32c(s_uuid+grp_num+ibitmap) LE' },
  { name: 'bg_itable_unused_lo', offset: 0x1c, type: 'u16', doc: 'Unused inodes count' },
  { name: 'bg_checksum', offset: 0x1e, type: 'u16', doc: 'crc16(sb_uuid+group+desc) or crc32c & 0xffff' },
  { name: 'bg_block_bitmap_hi', offset: 0x20, type: 'u32', doc: 'High 32 bits of block bitmap location' },
  { name: 'bg_inode_bitmap_hi', offset: 0x24, type: 'u32', doc: 'High 32 bits of inode bitmap location' },
  { name: 'bg_inode_table_hi', offset: 0x28, type: 'u32', doc: 'High 32 bits of inode table location' },
  { name: 'bg_free_blocks_count_hi', offset: 0x2c, type: 'u16', doc: 'High 16 bits of free block count' },
  { name: 'bg_free_inodes_count_hi', offset: 0x2e, type: 'u16', doc: 'High 16 bits of free inode count' },
  { name: 'bg_used_dirs_count_hi', offset: 0x30, type: 'u16', doc: 'High 16 bits of directory count' },
  { name: 'bg_itable_unused_hi', offset: 0x32, type: 'u16', doc: 'High 16 bits of unused inode count' },
  { name: 'bg_exclude_bitmap_hi', offset: 0x34, type: 'u32', doc: 'High 32 bits of snapshot exclusion bitmap' },
  { name: 'bg_block_bitmap_csum_hi', offset: 0x38, type: 'u16', doc: 'High 16 bits of block bitmap checksum' },
  { name: 'bg_inode_bitmap_csum_hi', offset: 0x3a, type: 'u16', doc: 'High 16 bits of inode bitmap checksum' },
  { name: 'bg_reserved', offset: 0x3c, type: 'u32', doc: 'Padding to 64 bytes' },
] as const);

export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;
export const BG_INODE_ZEROED = 0x4;

/** Offset of bg_checksum: the crc16 covers bytes before it and from 0x20 on. */
export const BG_CHECKSUM_OFFSET = 0x1e;
/** The hi halves of the bitmap checksums exist when desc_size reaches this. */
export const BG_BLOCK_BITMAP_CSUM_HI_END = 0x3a;
export const BG_INODE_BITMAP_CSUM_HI_END = 0x3c;

/** A group descriptor with hi/lo halves combined (long form only where desc_size >= 64). */
export class GroupDescriptor {
  private raw: InstanceType<typeof GroupDesc> | null = null;
  private readonly long: boolean;

  constructor(readonly bytes: Uint8Array, readonly offset: number, readonly descSize: number, readonly group: number) {
    this.long = descSize >= 64;
    // 32-byte descriptors: give the table a 64-byte window only when it fits; hi fields are never read.
    const room = bytes.length - offset;
    this.raw = room >= 64 ? new GroupDesc(bytes, offset) : null;
    if (this.raw === null) {
      const copy = new Uint8Array(64);
      copy.set(bytes.subarray(offset, offset + 32));
      this.short = copy;
      this.raw = new GroupDesc(copy, 0);
    }
  }
  private short: Uint8Array | null = null;

  private get d(): InstanceType<typeof GroupDesc> { return this.raw!; }

  private hi32(v: number): number { return this.long ? v : 0; }

  get blockBitmap(): number { return joinU64(this.d.bg_block_bitmap_lo, this.hi32(this.d.bg_block_bitmap_hi)); }
  get inodeBitmap(): number { return joinU64(this.d.bg_inode_bitmap_lo, this.hi32(this.d.bg_inode_bitmap_hi)); }
  get inodeTable(): number { return joinU64(this.d.bg_inode_table_lo, this.hi32(this.d.bg_inode_table_hi)); }
  get freeBlocks(): number { return this.d.bg_free_blocks_count_lo + (this.long ? this.d.bg_free_blocks_count_hi * 0x10000 : 0); }
  get freeInodes(): number { return this.d.bg_free_inodes_count_lo + (this.long ? this.d.bg_free_inodes_count_hi * 0x10000 : 0); }
  get usedDirs(): number { return this.d.bg_used_dirs_count_lo + (this.long ? this.d.bg_used_dirs_count_hi * 0x10000 : 0); }
  get itableUnused(): number { return this.d.bg_itable_unused_lo + (this.long ? this.d.bg_itable_unused_hi * 0x10000 : 0); }
  get flags(): number { return this.d.bg_flags; }
  get checksum(): number { return this.d.bg_checksum; }
  get blockBitmapCsum(): number {
    return this.d.bg_block_bitmap_csum_lo + (this.descSize >= BG_BLOCK_BITMAP_CSUM_HI_END + 2 ? this.d.bg_block_bitmap_csum_hi * 0x10000 : 0);
  }
  get inodeBitmapCsum(): number {
    return this.d.bg_inode_bitmap_csum_lo + (this.descSize >= BG_INODE_BITMAP_CSUM_HI_END ? this.d.bg_inode_bitmap_csum_hi * 0x10000 : 0);
  }

  set blockBitmap(v: number) { this.setSplit('bg_block_bitmap_lo', 'bg_block_bitmap_hi', v); }
  set inodeBitmap(v: number) { this.setSplit('bg_inode_bitmap_lo', 'bg_inode_bitmap_hi', v); }
  set inodeTable(v: number) { this.setSplit('bg_inode_table_lo', 'bg_inode_table_hi', v); }
  set freeBlocks(v: number) { this.setSplit16('bg_free_blocks_count_lo', 'bg_free_blocks_count_hi', v); }
  set freeInodes(v: number) { this.setSplit16('bg_free_inodes_count_lo', 'bg_free_inodes_count_hi', v); }
  set usedDirs(v: number) { this.setSplit16('bg_used_dirs_count_lo', 'bg_used_dirs_count_hi', v); }
  set itableUnused(v: number) { this.setSplit16('bg_itable_unused_lo', 'bg_itable_unused_hi', v); }
  set flags(v: number) { this.d.bg_flags = v; this.sync(); }
  set checksum(v: number) { this.d.bg_checksum = v; this.sync(); }
  set blockBitmapCsum(v: number) {
    this.d.bg_block_bitmap_csum_lo = v & 0xffff;
    if (this.descSize >= BG_BLOCK_BITMAP_CSUM_HI_END + 2) this.d.bg_block_bitmap_csum_hi = v >>> 16;
    this.sync();
  }
  set inodeBitmapCsum(v: number) {
    this.d.bg_inode_bitmap_csum_lo = v & 0xffff;
    if (this.descSize >= BG_INODE_BITMAP_CSUM_HI_END) this.d.bg_inode_bitmap_csum_hi = v >>> 16;
    this.sync();
  }

  /** The descriptor's bytes as stored (descSize long). */
  get raw_bytes(): Uint8Array { return this.bytes.subarray(this.offset, this.offset + this.descSize); }

  private setSplit(lo: 'bg_block_bitmap_lo' | 'bg_inode_bitmap_lo' | 'bg_inode_table_lo',
    hi: 'bg_block_bitmap_hi' | 'bg_inode_bitmap_hi' | 'bg_inode_table_hi', v: number): void {
    const [l, h] = splitU64(v);
    if (!this.long && h !== 0) throw new RangeError(`block ${v} needs 64bit descriptors`);
    this.d[lo] = l;
    if (this.long) this.d[hi] = h;
    this.sync();
  }

  private setSplit16(lo: 'bg_free_blocks_count_lo' | 'bg_free_inodes_count_lo' | 'bg_used_dirs_count_lo' | 'bg_itable_unused_lo',
    hi: 'bg_free_blocks_count_hi' | 'bg_free_inodes_count_hi' | 'bg_used_dirs_count_hi' | 'bg_itable_unused_hi', v: number): void {
    this.d[lo] = v & 0xffff;
    if (this.long) this.d[hi] = Math.floor(v / 0x10000) & 0xffff;
    else if (v > 0xffff) throw new RangeError(`count ${v} does not fit a 32-byte descriptor`);
    this.sync();
  }

  /** 32-byte descriptors are edited in a private 64-byte copy; write it back. */
  private sync(): void {
    if (this.short !== null) this.bytes.set(this.short.subarray(0, 32), this.offset);
  }
}
