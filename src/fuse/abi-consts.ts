// FUSE kernel ABI constants: include/uapi/linux/fuse.h, protocol 7.45
// (Linux 6.18). Names follow the header with the FUSE_ prefix dropped inside
// each group object. See shared/notes/fuse-kernel-protocol.md §1.
//
// 64-bit INIT capability bits 32..63 are listed in InitFlags2 as bit values
// of the flags2 word (bit 32 -> 1 << 0), which is how the wire carries them.

export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 45;
/** Oldest kernel minor we talk to (fuse_mknod_in/fuse_create_in at full size). */
export const FUSE_MIN_SUPPORTED_MINOR = 12;
export const FUSE_ROOT_ID = 1;
export const FUSE_MIN_READ_BUFFER = 8192;
/** The header sizes: fuse_in_header and fuse_out_header. */
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const FUSE_COMPAT_INIT_OUT_SIZE = 8;
export const FUSE_COMPAT_22_INIT_OUT_SIZE = 24;
export const FUSE_COMPAT_SETXATTR_IN_SIZE = 8;
/** Bit 0 of `unique` marks an INTERRUPT request (FUSE_INT_REQ_BIT). */
export const FUSE_INT_REQ_BIT = 1;
export const PAGE_SIZE = 4096;
/** Default /proc/sys/fs/fuse/max_pages_limit (256 pages = 1 MiB). */
export const FUSE_MAX_MAX_PAGES = 256;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;
export type OpcodeName = keyof typeof Opcode;

/** fuse_init_in.flags / fuse_init_out.flags (capability bits 0..31). */
export const InitFlags = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  FILE_OPS: 1 << 2,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  HAS_IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  POSIX_ACL: 1 << 20,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
  MAP_ALIGNMENT: 1 << 26,
  SUBMOUNTS: 1 << 27,
  HANDLE_KILLPRIV_V2: 1 << 28,
  SETXATTR_EXT: 1 << 29,
  INIT_EXT: 1 << 30,
  INIT_RESERVED: 2 ** 31,
} as const;

/** fuse_init_in.flags2 / fuse_init_out.flags2: capability bits 32..63, shifted down by 32. */
export const InitFlags2 = {
  SECURITY_CTX: 1 << 0, // bit 32
  HAS_INODE_DAX: 1 << 1, // 33
  CREATE_SUPP_GROUP: 1 << 2, // 34
  HAS_EXPIRE_ONLY: 1 << 3, // 35
  DIRECT_IO_ALLOW_MMAP: 1 << 4, // 36
  PASSTHROUGH: 1 << 5, // 37
  NO_EXPORT_SUPPORT: 1 << 6, // 38
  HAS_RESEND: 1 << 7, // 39
  ALLOW_IDMAP: 1 << 8, // 40
  OVER_IO_URING: 1 << 9, // 41
  REQUEST_TIMEOUT: 1 << 10, // 42
} as const;

/** fuse_setattr_in.valid */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

/** fuse_open_in.open_flags / fuse_create_in.open_flags */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
/** fuse_getattr_in.getattr_flags */
export const FUSE_GETATTR_FH = 1 << 0;
/** fuse_release_in.release_flags */
export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
/** fuse_lk_in.lk_flags */
export const FUSE_LK_FLOCK = 1 << 0;
/** fuse_write_in.write_flags */
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** fuse_read_in.read_flags */
export const FUSE_READ_LOCKOWNER = 1 << 1;
/** fuse_fsync_in.fsync_flags */
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
/** fuse_notify_inval_entry_out.flags */
export const FUSE_EXPIRE_ONLY = 1 << 0;
/** fuse_attr.flags */
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
export const FUSE_ATTR_DAX = 1 << 1;

/** renameat2(2) flags carried in fuse_rename2_in.flags (linux/fs.h). */
export const RENAME = { NOREPLACE: 1 << 0, EXCHANGE: 1 << 1, WHITEOUT: 1 << 2 } as const;

/** fuse_ioctl_in.flags / fuse_ioctl_out.flags */
export const FUSE_IOCTL = {
  COMPAT: 1 << 0,
  UNRESTRICTED: 1 << 1,
  RETRY: 1 << 2,
  '32BIT': 1 << 3,
  DIR: 1 << 4,
  COMPAT_X32: 1 << 5,
} as const;
export const FUSE_IOCTL_MAX_IOV = 256;

/** fuse_out_header.error of a notification (unique = 0). */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/** setxattr(2) flags */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** Directory entry types (d_type) = (mode & S_IFMT) >> 12. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export function dtypeOfMode(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}
