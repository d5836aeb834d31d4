// FUSE kernel ABI, part 2: the fixed argument structs that follow
// fuse_in_header in requests (include/uapi/linux/fuse.h 7.45).
// See shared/notes/fuse-kernel-protocol.md §1.3 (opcode table).
//
// lock_owner / owner / lock ranges are opaque kernel values that may exceed
// 2^53, so they are declared as 8 raw bytes and read as bigint when needed.
import { defineStruct } from '../util/struct.js';

export const FuseForgetIn = defineStruct('fuse_forget_in', 8, [
  { name: 'nlookup', offset: 0, type: 'u64' },
] as const);

export const FuseBatchForgetIn = defineStruct('fuse_batch_forget_in', 8, [
  { name: 'count', offset: 0, type: 'u32' },
  { name: 'dummy', offset: 4, type: 'u32' },
] as const);

export const FuseForgetOne = defineStruct('fuse_forget_one', 16, [
  { name: 'nodeid', offset: 0, type: 'u64' },
  { name: 'nlookup', offset: 8, type: 'u64' },
] as const);

export const FuseGetattrIn = defineStruct('fuse_getattr_in', 16, [
  { name: 'getattr_flags', offset: 0, type: 'u32', doc: 'FUSE_GETATTR_FH' },
  { name: 'dummy', offset: 4, type: 'u32' },
  { name: 'fh', offset: 8, type: 'u64' },
] as const);

export const FuseSetattrIn = defineStruct('fuse_setattr_in', 88, [
  { name: 'valid', offset: 0, type: 'u32', doc: 'FATTR_* bitmask' },
  { name: 'padding', offset: 4, type: 'u32' },
  { name: 'fh', offset: 8, type: 'u64' },
  { name: 'size', offset: 16, type: 'u64' },
  { name: 'lock_owner', offset: 24, type: 'bytes', size: 8 },
  { name: 'atime', offset: 32, type: 'bytes', size: 8, doc: 's64 seconds' },
  { name: 'mtime', offset: 40, type: 'bytes', size: 8, doc: 's64 seconds' },
  { name: 'ctime', offset: 48, type: 'bytes', size: 8, doc: 's64 seconds' },
  { name: 'atimensec', offset: 56, type: 'u32' },
  { name: 'mtimensec', offset: 60, type: 'u32' },
  { name: 'ctimensec', offset: 64, type: 'u32' },
  { name: 'mode', offset: 68, type: 'u32' },
  { name: 'unused4', offset: 72, type: 'u32' },
  { name: 'uid', offset: 76, type: 'u32' },
  { name: 'gid', offset: 80, type: 'u32' },
  { name: 'unused5', offset: 84, type: 'u32' },
] as const);

export const FuseMknodIn = defineStruct('fuse_mknod_in', 16, [
  { name: 'mode', offset: 0, type: 'u32' },
  { name: 'rdev', offset: 4, type: 'u32' },
  { name: 'umask', offset: 8, type: 'u32' },
  { name: 'padding', offset: 12, type: 'u32' },
] as const);

export const FuseMkdirIn = defineStruct('fuse_mkdir_in', 8, [
  { name: 'mode', offset: 0, type: 'u32' },
  { name: 'umask', offset: 4, type: 'u32' },
] as const);

export const FuseRenameIn = defineStruct('fuse_rename_in', 8, [
  { name: 'newdir', offset: 0, type: 'u64' },
] as const);

export const FuseRename2In = defineStruct('fuse_rename2_in', 16, [
  { name: 'newdir', offset: 0, type: 'u64' },
  { name: 'flags', offset: 8, type: 'u32', doc: 'RENAME_NOREPLACE 1, EXCHANGE 2, WHITEOUT 4' },
  { name: 'padding', offset: 12, type: 'u32' },
] as const);

export const FuseLinkIn = defineStruct('fuse_link_in', 8, [
  { name: 'oldnodeid', offset: 0, type: 'u64' },
] as const);

export const FuseOpenIn = defineStruct('fuse_open_in', 8, [
  { name: 'flags', offset: 0, type: 'u32', doc: 'open(2) flags' },
  { name: 'open_flags', offset: 4, type: 'u32', doc: 'FUSE_OPEN_KILL_SUIDGID' },
] as const);

export const FuseCreateIn = defineStruct('fuse_create_in', 16, [
  { name: 'flags', offset: 0, type: 'u32' },
  { name: 'mode', offset: 4, type: 'u32' },
  { name: 'umask', offset: 8, type: 'u32' },
  { name: 'open_flags', offset: 12, type: 'u32' },
] as const);

export const FuseReleaseIn = defineStruct('fuse_release_in', 24, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'flags', offset: 8, type: 'u32' },
  { name: 'release_flags', offset: 12, type: 'u32', doc: 'FUSE_RELEASE_FLUSH, FLOCK_UNLOCK' },
  { name: 'lock_owner', offset: 16, type: 'bytes', size: 8 },
] as const);

export const FuseFlushIn = defineStruct('fuse_flush_in', 24, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'unused', offset: 8, type: 'u32' },
  { name: 'padding', offset: 12, type: 'u32' },
  { name: 'lock_owner', offset: 16, type: 'bytes', size: 8 },
] as const);

/** fuse_read_in; fuse_write_in has the same layout (write_flags in place of read_flags). */
export const FuseReadIn = defineStruct('fuse_read_in', 40, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'offset', offset: 8, type: 'u64' },
  { name: 'size', offset: 16, type: 'u32' },
  { name: 'read_flags', offset: 20, type: 'u32' },
  { name: 'lock_owner', offset: 24, type: 'bytes', size: 8 },
  { name: 'flags', offset: 32, type: 'u32', doc: 'open(2) flags of the file' },
  { name: 'padding', offset: 36, type: 'u32' },
] as const);

export const FuseWriteIn = defineStruct('fuse_write_in', 40, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'offset', offset: 8, type: 'u64' },
  { name: 'size', offset: 16, type: 'u32', doc: 'payload bytes following the struct' },
  { name: 'write_flags', offset: 20, type: 'u32', doc: 'FUSE_WRITE_CACHE, LOCKOWNER, KILL_SUIDGID' },
  { name: 'lock_owner', offset: 24, type: 'bytes', size: 8 },
  { name: 'flags', offset: 32, type: 'u32' },
  { name: 'padding', offset: 36, type: 'u32' },
] as const);

export const FuseFsyncIn = defineStruct('fuse_fsync_in', 16, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'fsync_flags', offset: 8, type: 'u32', doc: 'FUSE_FSYNC_FDATASYNC' },
  { name: 'padding', offset: 12, type: 'u32' },
] as const);

/** The 8-byte form, used unless FUSE_SETXATTR_EXT was negotiated. */
export const FuseSetxattrInCompat = defineStruct('fuse_setxattr_in', 8, [
  { name: 'size', offset: 0, type: 'u32', doc: 'value length' },
  { name: 'flags', offset: 4, type: 'u32', doc: 'XATTR_CREATE 1, XATTR_REPLACE 2' },
] as const);

/** The 16-byte form (FUSE_SETXATTR_EXT, 7.33). */
export const FuseSetxattrIn = defineStruct('fuse_setxattr_in', 16, [
  { name: 'size', offset: 0, type: 'u32' },
  { name: 'flags', offset: 4, type: 'u32' },
  { name: 'setxattr_flags', offset: 8, type: 'u32', doc: 'FUSE_SETXATTR_ACL_KILL_SGID' },
  { name: 'padding', offset: 12, type: 'u32' },
] as const);
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;

export const FuseGetxattrIn = defineStruct('fuse_getxattr_in', 8, [
  { name: 'size', offset: 0, type: 'u32', doc: '0 = size probe' },
  { name: 'padding', offset: 4, type: 'u32' },
] as const);

export const FuseAccessIn = defineStruct('fuse_access_in', 8, [
  { name: 'mask', offset: 0, type: 'u32', doc: 'R_OK 4, W_OK 2, X_OK 1, F_OK 0' },
  { name: 'padding', offset: 4, type: 'u32' },
] as const);

export const FuseLkIn = defineStruct('fuse_lk_in', 48, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'owner', offset: 8, type: 'bytes', size: 8 },
  { name: 'start', offset: 16, type: 'bytes', size: 8, doc: 'lk.start' },
  { name: 'end', offset: 24, type: 'bytes', size: 8, doc: 'lk.end' },
  { name: 'type', offset: 32, type: 'u32', doc: 'lk.type' },
  { name: 'pid', offset: 36, type: 'u32', doc: 'lk.pid' },
  { name: 'lk_flags', offset: 40, type: 'u32', doc: 'FUSE_LK_FLOCK' },
  { name: 'padding', offset: 44, type: 'u32' },
] as const);

export const FuseInterruptIn = defineStruct('fuse_interrupt_in', 8, [
  { name: 'unique', offset: 0, type: 'u64' },
] as const);

export const FuseBmapIn = defineStruct('fuse_bmap_in', 16, [
  { name: 'block', offset: 0, type: 'u64' },
  { name: 'blocksize', offset: 8, type: 'u32' },
  { name: 'padding', offset: 12, type: 'u32' },
] as const);

export const FuseIoctlIn = defineStruct('fuse_ioctl_in', 32, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'flags', offset: 8, type: 'u32', doc: 'FUSE_IOCTL_*' },
  { name: 'cmd', offset: 12, type: 'u32' },
  { name: 'arg', offset: 16, type: 'u64', doc: 'user-space argument (pointer value)' },
  { name: 'in_size', offset: 24, type: 'u32' },
  { name: 'out_size', offset: 28, type: 'u32' },
] as const);

export const FusePollIn = defineStruct('fuse_poll_in', 24, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'kh', offset: 8, type: 'u64' },
  { name: 'flags', offset: 16, type: 'u32' },
  { name: 'events', offset: 20, type: 'u32' },
] as const);

export const FuseFallocateIn = defineStruct('fuse_fallocate_in', 32, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'offset', offset: 8, type: 'u64' },
  { name: 'length', offset: 16, type: 'u64' },
  { name: 'mode', offset: 24, type: 'u32', doc: 'FALLOC_FL_*' },
  { name: 'padding', offset: 28, type: 'u32' },
] as const);

export const FuseLseekIn = defineStruct('fuse_lseek_in', 24, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'offset', offset: 8, type: 'u64' },
  { name: 'whence', offset: 16, type: 'u32', doc: 'SEEK_DATA 3, SEEK_HOLE 4' },
  { name: 'padding', offset: 20, type: 'u32' },
] as const);

export const FuseCopyFileRangeIn = defineStruct('fuse_copy_file_range_in', 56, [
  { name: 'fh_in', offset: 0, type: 'u64' },
  { name: 'off_in', offset: 8, type: 'u64' },
  { name: 'nodeid_out', offset: 16, type: 'u64' },
  { name: 'fh_out', offset: 24, type: 'u64' },
  { name: 'off_out', offset: 32, type: 'u64' },
  { name: 'len', offset: 40, type: 'u64' },
  { name: 'flags', offset: 48, type: 'u64' },
] as const);

export const FuseSyncfsIn = defineStruct('fuse_syncfs_in', 8, [
  { name: 'padding', offset: 0, type: 'u64' },
] as const);

export const FuseStatxIn = defineStruct('fuse_statx_in', 24, [
  { name: 'getattr_flags', offset: 0, type: 'u32' },
  { name: 'reserved', offset: 4, type: 'u32' },
  { name: 'fh', offset: 8, type: 'u64' },
  { name: 'sx_flags', offset: 16, type: 'u32', doc: 'AT_STATX_* sync flags' },
  { name: 'sx_mask', offset: 20, type: 'u32', doc: 'STATX_* wanted fields' },
] as const);
