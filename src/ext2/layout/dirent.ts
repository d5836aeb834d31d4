// Directory entries: Documentation/filesystems/ext4/directory.rst
// ("Linear (Classic) Directories", "Hash Tree Directories").
import { defineStruct } from '../../util/struct.js';

/** ext4_dir_entry_2 (with the filetype feature; otherwise name_len is a u16). */
export const DirEntry = defineStruct('ext4_dir_entry_2', 8, [
  { name: 'inode', offset: 0x0, type: 'u32', doc: 'Inode number (0 = unused entry)' },
  { name: 'rec_len', offset: 0x4, type: 'u16', doc: 'Length of this record, 4-aligned' },
  { name: 'name_len', offset: 0x6, type: 'u8', doc: 'Length of the name' },
  { name: 'file_type', offset: 0x7, type: 'u8', doc: 'File type code (filetype feature)' },
] as const);

export const DIRENT_HEADER = 8;
export const EXT2_NAME_LEN = 255;

/** ext4_dir_entry_tail: a fake entry at the end of a leaf block holding its checksum. */
export const DirTail = defineStruct('ext4_dir_entry_tail', 12, [
  { name: 'det_reserved_zero1', offset: 0x0, type: 'u32', doc: 'Inode number, must be zero' },
  { name: 'det_rec_len', offset: 0x4, type: 'u16', doc: 'Length of this record, 12' },
  { name: 'det_reserved_zero2', offset: 0x6, type: 'u8', doc: 'Name length, must be zero' },
  { name: 'det_reserved_ft', offset: 0x7, type: 'u8', doc: 'File type, must be 0xDE' },
  { name: 'det_checksum', offset: 0x8, type: 'u32', doc: 'Directory leaf block checksum' },
] as const);
export const DIR_TAIL_SIZE = 12;
export const DIR_TAIL_FT = 0xde;

// file_type codes
export const FT = { UNKNOWN: 0, REG_FILE: 1, DIR: 2, CHRDEV: 3, BLKDEV: 4, FIFO: 5, SOCK: 6, SYMLINK: 7 } as const;

/** dx_root_info, at byte 0x18 of the first block of an htree directory (after fake "." and ".."). */
export const DxRootInfo = defineStruct('dx_root_info', 8, [
  { name: 'reserved_zero', offset: 0x0, type: 'u32', doc: 'Zero' },
  { name: 'hash_version', offset: 0x4, type: 'u8', doc: 'Hash type' },
  { name: 'info_length', offset: 0x5, type: 'u8', doc: 'Length of the tree information, 8' },
  { name: 'indirect_levels', offset: 0x6, type: 'u8', doc: 'Depth of the htree below the root' },
  { name: 'unused_flags', offset: 0x7, type: 'u8', doc: 'Flags' },
] as const);
export const DX_ROOT_INFO_OFFSET = 0x18;

/** dx_countlimit overlays the first dx_entry of a node. */
export const DxCountLimit = defineStruct('dx_countlimit', 8, [
  { name: 'limit', offset: 0x0, type: 'u16', doc: 'Maximum number of dx_entries that can follow' },
  { name: 'count', offset: 0x2, type: 'u16', doc: 'Actual number of dx_entries that follow (incl. this one)' },
  { name: 'block', offset: 0x4, type: 'u32', doc: 'Directory block of the lowest hashes' },
] as const);

export const DxEntry = defineStruct('dx_entry', 8, [
  { name: 'hash', offset: 0x0, type: 'u32', doc: 'Lowest hash value in the block' },
  { name: 'block', offset: 0x4, type: 'u32', doc: 'Directory block (logical) holding those hashes' },
] as const);

export const DxTail = defineStruct('dx_tail', 8, [
  { name: 'dt_reserved', offset: 0x0, type: 'u32', doc: 'Zero' },
  { name: 'dt_checksum', offset: 0x4, type: 'u32', doc: 'crc32c(uuid+inum+dirblock)' },
] as const);

/** The kernel's limits on htree depth below the root. */
export const DX_MAX_LEVELS_LEGACY = 2;
export const DX_MAX_LEVELS_LARGEDIR = 3;
