// Extent trees: Documentation/filesystems/ext4/ifork.rst ("Extent Tree").
// A 12-byte header, then 12-byte index entries (interior) or extents (leaves);
// tree blocks end with a 4-byte checksum tail after eh_max entries.
import { defineStruct } from '../../util/struct.js';

export const EXT4_EXT_MAGIC = 0xf30a;
export const EXT_ENTRY_SIZE = 12;
export const EXT_HEADER_SIZE = 12;
/** ee_len above this marks an unwritten (preallocated) extent. */
export const EXT_INIT_MAX_LEN = 32768;
export const EXT_UNWRITTEN_MAX_LEN = 32767;
/** The kernel refuses trees deeper than this (EXT4_MAX_EXTENT_DEPTH). */
export const EXT4_MAX_EXTENT_DEPTH = 5;

export const ExtentHeader = defineStruct('ext4_extent_header', 12, [
  { name: 'eh_magic', offset: 0x0, type: 'u16', doc: 'Magic number, 0xF30A' },
  { name: 'eh_entries', offset: 0x2, type: 'u16', doc: 'Number of valid entries following the header' },
  { name: 'eh_max', offset: 0x4, type: 'u16', doc: 'Maximum number of entries that could follow the header' },
  { name: 'eh_depth', offset: 0x6, type: 'u16', doc: 'Depth of this node in the tree (0 = leaf)' },
  { name: 'eh_generation', offset: 0x8, type: 'u32', doc: 'Generation of the tree (unused)' },
] as const);

export const ExtentIndex = defineStruct('ext4_extent_idx', 12, [
  { name: 'ei_block', offset: 0x0, type: 'u32', doc: 'Covers file blocks from this one onward' },
  { name: 'ei_leaf_lo', offset: 0x4, type: 'u32', doc: 'Lower 32 bits of the block of the next level' },
  { name: 'ei_leaf_hi', offset: 0x8, type: 'u16', doc: 'Upper 16 bits of the block of the next level' },
  { name: 'ei_unused', offset: 0xa, type: 'u16', doc: 'Unused' },
] as const);

export const Extent = defineStruct('ext4_extent', 12, [
  { name: 'ee_block', offset: 0x0, type: 'u32', doc: 'First file block this extent covers' },
  { name: 'ee_len', offset: 0x4, type: 'u16', doc: 'Number of blocks (> 32768: unwritten, len - 32768)' },
  { name: 'ee_start_hi', offset: 0x6, type: 'u16', doc: 'Upper 16 bits of the block number' },
  { name: 'ee_start_lo', offset: 0x8, type: 'u32', doc: 'Lower 32 bits of the block number' },
] as const);

export const ExtentTail = defineStruct('ext4_extent_tail', 4, [
  { name: 'eb_checksum', offset: 0x0, type: 'u32', doc: 'crc32c(uuid+inum+igeneration+extentblock)' },
] as const);
