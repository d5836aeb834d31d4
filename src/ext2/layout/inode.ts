// The on-disk inode: Documentation/filesystems/ext4/inodes.rst.
// 128 bytes of the original ext2 inode, then i_extra_isize bytes of the large
// inode (ns timestamps, crtime, checksum hi), then in-inode xattrs.
import { defineStruct } from '../../util/struct.js';

export const InodeRaw = defineStruct('ext4_inode', 160, [
  { name: 'i_mode', offset: 0x0, type: 'u16', doc: 'File mode' },
  { name: 'i_uid', offset: 0x2, type: 'u16', doc: 'Lower 16 bits of owner UID' },
  { name: 'i_size_lo', offset: 0x4, type: 'u32', doc: 'Lower 32 bits of size in bytes' },
  { name: 'i_atime', offset: 0x8, type: 's32', doc: 'Last access time (seconds since the epoch)' },
  { name: 'i_ctime', offset: 0xc, type: 's32', doc: 'Last inode change time' },
  { name: 'i_mtime', offset: 0x10, type: 's32', doc: 'Last data modification time' },
  { name: 'i_dtime', offset: 0x14, type: 'u32', doc: 'Deletion time / next orphan inode' },
  { name: 'i_gid', offset: 0x18, type: 'u16', doc: 'Lower 16 bits of GID' },
  { name: 'i_links_count', offset: 0x1a, type: 'u16', doc: 'Hard link count' },
  { name: 'i_blocks_lo', offset: 0x1c, type: 'u32', doc: 'Lower 32 bits of block count' },
  { name: 'i_flags', offset: 0x20, type: 'u32', doc: 'Inode flags' },
  { name: 'l_i_version', offset: 0x24, type: 'u32', doc: 'Inode version (osd1)' },
  { name: 'i_block', offset: 0x28, type: 'bytes', size: 60, doc: 'Block map, extent tree, inline data or symlink target' },
  { name: 'i_generation', offset: 0x64, type: 'u32', doc: 'File version (for NFS)' },
  { name: 'i_file_acl_lo', offset: 0x68, type: 'u32', doc: 'Lower 32 bits of extended attribute block' },
  { name: 'i_size_high', offset: 0x6c, type: 'u32', doc: 'Upper 32 bits of file/directory size' },
  { name: 'i_obso_faddr', offset: 0x70, type: 'u32', doc: 'Obsolete fragment address' },
  { name: 'l_i_blocks_high', offset: 0x74, type: 'u16', doc: 'Upper 16 bits of the block count' },
  { name: 'l_i_file_acl_high', offset: 0x76, type: 'u16', doc: 'Upper 16 bits of the extended attribute block' },
  { name: 'l_i_uid_high', offset: 0x78, type: 'u16', doc: 'Upper 16 bits of the Owner UID' },
  { name: 'l_i_gid_high', offset: 0x7a, type: 'u16', doc: 'Upper 16 bits of the GID' },
  { name: 'l_i_checksum_lo', offset: 0x7c, type: 'u16', doc: 'Lower 16 bits of the inode checksum' },
  { name: 'l_i_reserved', offset: 0x7e, type: 'u16', doc: 'Unused' },
  { name: 'i_extra_isize', offset: 0x80, type: 'u16', doc: 'Size of this inode - 128' },
  { name: 'i_checksum_hi', offset: 0x82, type: 'u16', doc: 'Upper 16 bits of the inode checksum' },
  { name: 'i_ctime_extra', offset: 0x84, type: 'u32', doc: 'Extra change time bits (epoch, ns)' },
  { name: 'i_mtime_extra', offset: 0x88, type: 'u32', doc: 'Extra modification time bits' },
  { name: 'i_atime_extra', offset: 0x8c, type: 'u32', doc: 'Extra access time bits' },
  { name: 'i_crtime', offset: 0x90, type: 's32', doc: 'File creation time' },
  { name: 'i_crtime_extra', offset: 0x94, type: 'u32', doc: 'Extra file creation time bits' },
  { name: 'i_version_hi', offset: 0x98, type: 'u32', doc: 'Upper 32 bits of the version number' },
  { name: 'i_projid', offset: 0x9c, type: 'u32', doc: 'Project ID' },
] as const);
export type InodeRaw = InstanceType<typeof InodeRaw>;

export const GOOD_OLD_INODE_SIZE = 128;
/** Byte offsets within the extra part: a field exists when 128 + i_extra_isize covers it. */
export const EXTRA_END = {
  i_checksum_hi: 0x84,
  i_ctime_extra: 0x88,
  i_mtime_extra: 0x8c,
  i_atime_extra: 0x90,
  i_crtime: 0x94,
  i_crtime_extra: 0x98,
  i_version_hi: 0x9c,
  i_projid: 0xa0,
} as const;

// i_mode file types
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

// i_flags (Documentation/filesystems/ext4/inodes.rst)
export const InodeFlags = {
  SECRM: 0x1,
  UNRM: 0x2,
  COMPR: 0x4,
  SYNC: 0x8,
  IMMUTABLE: 0x10,
  APPEND: 0x20,
  NODUMP: 0x40,
  NOATIME: 0x80,
  DIRTY: 0x100,
  COMPRBLK: 0x200,
  NOCOMPR: 0x400,
  ENCRYPT: 0x800,
  INDEX: 0x1000,
  IMAGIC: 0x2000,
  JOURNAL_DATA: 0x4000,
  NOTAIL: 0x8000,
  DIRSYNC: 0x10000,
  TOPDIR: 0x20000,
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  VERITY: 0x100000,
  EA_INODE: 0x200000,
  DAX: 0x2000000,
  INLINE_DATA: 0x10000000,
  PROJINHERIT: 0x20000000,
  CASEFOLD: 0x40000000,
} as const;

// Reserved inode numbers
export const ROOT_INO = 2;
export const BAD_INO = 1;
export const USR_QUOTA_INO = 3;
export const GRP_QUOTA_INO = 4;
export const BOOT_LOADER_INO = 5;
export const UNDEL_DIR_INO = 6;
export const RESIZE_INO = 7;
export const JOURNAL_INO = 8;

/** A timestamp as stored: seconds (may exceed 32 bits via epoch bits) and nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/** Decode a time and its extra word (ext4_decode_extra_time). */
export function decodeTime(seconds: number, extra: number | undefined): Timestamp {
  if (extra === undefined) return { sec: seconds, nsec: 0 };
  const epoch = extra & 3;
  return { sec: seconds + epoch * 0x1_0000_0000, nsec: extra >>> 2 };
}

/** Encode seconds+ns into the s32 seconds field and the extra word (ext4_encode_extra_time). */
export function encodeTime(t: Timestamp): { seconds: number; extra: number } {
  const low = ((t.sec % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
  const signedLow = low >= 0x8000_0000 ? low - 0x1_0000_0000 : low;
  const epoch = Math.floor((t.sec - signedLow) / 0x1_0000_0000) & 3;
  return { seconds: signedLow, extra: ((t.nsec << 2) | epoch) >>> 0 };
}
