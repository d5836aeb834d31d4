// FUSE kernel ABI, part 1: framing, INIT, attributes and the reply structs
// (include/uapi/linux/fuse.h 7.45; sizes match the header's sizeof, checked
// by defineStruct at load). Kernel field names verbatim.
// See shared/notes/fuse-kernel-protocol.md §1.1–§1.4 and §2.1.
import { defineStruct } from '../util/struct.js';

export const FuseInHeader = defineStruct('fuse_in_header', 40, [
  { name: 'len', offset: 0, type: 'u32', doc: 'total bytes of this request, header included' },
  { name: 'opcode', offset: 4, type: 'u32' },
  { name: 'unique', offset: 8, type: 'u64', doc: 'request id; bit 0 = interrupt, bit 63 = resend' },
  { name: 'nodeid', offset: 16, type: 'u64', doc: 'target node (0 for INIT, BATCH_FORGET)' },
  { name: 'uid', offset: 24, type: 'u32' },
  { name: 'gid', offset: 28, type: 'u32' },
  { name: 'pid', offset: 32, type: 'u32', doc: '0 for kernel-internal requests' },
  { name: 'total_extlen', offset: 36, type: 'u16', doc: 'trailing extensions, in 8-byte units (7.38)' },
  { name: 'padding', offset: 38, type: 'u16' },
] as const);

export const FuseOutHeader = defineStruct('fuse_out_header', 16, [
  { name: 'len', offset: 0, type: 'u32', doc: 'total bytes written; must equal the write size' },
  { name: 'error', offset: 4, type: 's32', doc: '0 or -errno; notify code when unique is 0' },
  { name: 'unique', offset: 8, type: 'u64' },
] as const);

export const FuseInitIn = defineStruct('fuse_init_in', 64, [
  { name: 'major', offset: 0, type: 'u32' },
  { name: 'minor', offset: 4, type: 'u32' },
  { name: 'max_readahead', offset: 8, type: 'u32' },
  { name: 'flags', offset: 12, type: 'u32' },
  { name: 'flags2', offset: 16, type: 'u32', doc: 'capability bits 32..63 (7.36)' },
  { name: 'unused', offset: 20, type: 'bytes', size: 44 },
] as const);
/** fuse_init_in before 7.36: major, minor, max_readahead, flags. */
export const FUSE_COMPAT_INIT_IN_SIZE = 16;

export const FuseInitOut = defineStruct('fuse_init_out', 64, [
  { name: 'major', offset: 0, type: 'u32' },
  { name: 'minor', offset: 4, type: 'u32' },
  { name: 'max_readahead', offset: 8, type: 'u32' },
  { name: 'flags', offset: 12, type: 'u32' },
  { name: 'max_background', offset: 16, type: 'u16' },
  { name: 'congestion_threshold', offset: 18, type: 'u16' },
  { name: 'max_write', offset: 20, type: 'u32' },
  { name: 'time_gran', offset: 24, type: 'u32', doc: 'timestamp granularity in ns (7.23)' },
  { name: 'max_pages', offset: 28, type: 'u16', doc: 'with FUSE_MAX_PAGES (7.28)' },
  { name: 'map_alignment', offset: 30, type: 'u16', doc: 'DAX only' },
  { name: 'flags2', offset: 32, type: 'u32', doc: 'read only with FUSE_INIT_EXT (7.36)' },
  { name: 'max_stack_depth', offset: 36, type: 'u32', doc: 'passthrough only (7.40)' },
  { name: 'request_timeout', offset: 40, type: 'u16', doc: 'seconds, with FUSE_REQUEST_TIMEOUT (7.43)' },
  { name: 'unused', offset: 42, type: 'bytes', size: 22 },
] as const);

export const FuseAttr = defineStruct('fuse_attr', 88, [
  { name: 'ino', offset: 0, type: 'u64', doc: 'st_ino (independent of nodeid)' },
  { name: 'size', offset: 8, type: 'u64' },
  { name: 'blocks', offset: 16, type: 'u64', doc: '512-byte units' },
  { name: 'atime', offset: 24, type: 'u64', doc: 'seconds (two\'s complement for negatives)' },
  { name: 'mtime', offset: 32, type: 'u64' },
  { name: 'ctime', offset: 40, type: 'u64' },
  { name: 'atimensec', offset: 48, type: 'u32' },
  { name: 'mtimensec', offset: 52, type: 'u32' },
  { name: 'ctimensec', offset: 56, type: 'u32' },
  { name: 'mode', offset: 60, type: 'u32' },
  { name: 'nlink', offset: 64, type: 'u32' },
  { name: 'uid', offset: 68, type: 'u32' },
  { name: 'gid', offset: 72, type: 'u32' },
  { name: 'rdev', offset: 76, type: 'u32' },
  { name: 'blksize', offset: 80, type: 'u32' },
  { name: 'flags', offset: 84, type: 'u32', doc: 'FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX' },
] as const);

/** fuse_entry_out; the fuse_attr lives at ATTR_OFFSET inside it. */
export const FuseEntryOut = defineStruct('fuse_entry_out', 128, [
  { name: 'nodeid', offset: 0, type: 'u64', doc: '0 = negative entry' },
  { name: 'generation', offset: 8, type: 'u64', doc: 'nodeid:generation unique for the fs lifetime' },
  { name: 'entry_valid', offset: 16, type: 'u64', doc: 'name cache timeout, seconds' },
  { name: 'attr_valid', offset: 24, type: 'u64', doc: 'attribute cache timeout, seconds' },
  { name: 'entry_valid_nsec', offset: 32, type: 'u32' },
  { name: 'attr_valid_nsec', offset: 36, type: 'u32' },
  { name: 'attr', offset: 40, type: 'bytes', size: 88, doc: 'struct fuse_attr' },
] as const);
export const ENTRY_OUT_ATTR_OFFSET = 40;

export const FuseAttrOut = defineStruct('fuse_attr_out', 104, [
  { name: 'attr_valid', offset: 0, type: 'u64' },
  { name: 'attr_valid_nsec', offset: 8, type: 'u32' },
  { name: 'dummy', offset: 12, type: 'u32' },
  { name: 'attr', offset: 16, type: 'bytes', size: 88, doc: 'struct fuse_attr' },
] as const);
export const ATTR_OUT_ATTR_OFFSET = 16;

export const FuseOpenOut = defineStruct('fuse_open_out', 16, [
  { name: 'fh', offset: 0, type: 'u64' },
  { name: 'open_flags', offset: 8, type: 'u32', doc: 'FOPEN_*' },
  { name: 'backing_id', offset: 12, type: 's32', doc: 'passthrough only' },
] as const);

export const FuseWriteOut = defineStruct('fuse_write_out', 8, [
  { name: 'size', offset: 0, type: 'u32' },
  { name: 'padding', offset: 4, type: 'u32' },
] as const);

export const FuseKstatfs = defineStruct('fuse_kstatfs', 80, [
  { name: 'blocks', offset: 0, type: 'u64' },
  { name: 'bfree', offset: 8, type: 'u64' },
  { name: 'bavail', offset: 16, type: 'u64' },
  { name: 'files', offset: 24, type: 'u64' },
  { name: 'ffree', offset: 32, type: 'u64' },
  { name: 'bsize', offset: 40, type: 'u32' },
  { name: 'namelen', offset: 44, type: 'u32' },
  { name: 'frsize', offset: 48, type: 'u32' },
  { name: 'padding', offset: 52, type: 'u32' },
  { name: 'spare', offset: 56, type: 'bytes', size: 24 },
] as const);

export const FuseGetxattrOut = defineStruct('fuse_getxattr_out', 8, [
  { name: 'size', offset: 0, type: 'u32' },
  { name: 'padding', offset: 4, type: 'u32' },
] as const);

/** fuse_lk_out = { struct fuse_file_lock lk }; start/end may be OFFSET_MAX, so raw bytes. */
export const FuseLkOut = defineStruct('fuse_lk_out', 24, [
  { name: 'start', offset: 0, type: 'bytes', size: 8, doc: 'fuse_file_lock.start (u64)' },
  { name: 'end', offset: 8, type: 'bytes', size: 8, doc: 'fuse_file_lock.end (u64, OFFSET_MAX = to EOF)' },
  { name: 'type', offset: 16, type: 'u32', doc: 'F_RDLCK 0, F_WRLCK 1, F_UNLCK 2' },
  { name: 'pid', offset: 20, type: 'u32' },
] as const);

export const FuseBmapOut = defineStruct('fuse_bmap_out', 8, [
  { name: 'block', offset: 0, type: 'u64' },
] as const);

export const FuseIoctlOut = defineStruct('fuse_ioctl_out', 16, [
  { name: 'result', offset: 0, type: 's32' },
  { name: 'flags', offset: 4, type: 'u32' },
  { name: 'in_iovs', offset: 8, type: 'u32' },
  { name: 'out_iovs', offset: 12, type: 'u32' },
] as const);

export const FusePollOut = defineStruct('fuse_poll_out', 8, [
  { name: 'revents', offset: 0, type: 'u32' },
  { name: 'padding', offset: 4, type: 'u32' },
] as const);

export const FuseLseekOut = defineStruct('fuse_lseek_out', 8, [
  { name: 'offset', offset: 0, type: 'u64' },
] as const);

export const FuseCopyFileRangeOut = defineStruct('fuse_copy_file_range_out', 8, [
  { name: 'bytes_copied', offset: 0, type: 'u64' },
] as const);

/** struct fuse_statx (statx(2) layout); each time is fuse_sx_time {s64 tv_sec; u32 tv_nsec; s32 reserved}. */
export const FuseStatx = defineStruct('fuse_statx', 256, [
  { name: 'mask', offset: 0, type: 'u32' },
  { name: 'blksize', offset: 4, type: 'u32' },
  { name: 'attributes', offset: 8, type: 'u64' },
  { name: 'nlink', offset: 16, type: 'u32' },
  { name: 'uid', offset: 20, type: 'u32' },
  { name: 'gid', offset: 24, type: 'u32' },
  { name: 'mode', offset: 28, type: 'u16' },
  { name: '__spare0', offset: 30, type: 'u16' },
  { name: 'ino', offset: 32, type: 'u64' },
  { name: 'size', offset: 40, type: 'u64' },
  { name: 'blocks', offset: 48, type: 'u64' },
  { name: 'attributes_mask', offset: 56, type: 'u64' },
  { name: 'atime', offset: 64, type: 'bytes', size: 16, doc: 'fuse_sx_time' },
  { name: 'btime', offset: 80, type: 'bytes', size: 16, doc: 'fuse_sx_time' },
  { name: 'ctime', offset: 96, type: 'bytes', size: 16, doc: 'fuse_sx_time' },
  { name: 'mtime', offset: 112, type: 'bytes', size: 16, doc: 'fuse_sx_time' },
  { name: 'rdev_major', offset: 128, type: 'u32' },
  { name: 'rdev_minor', offset: 132, type: 'u32' },
  { name: 'dev_major', offset: 136, type: 'u32' },
  { name: 'dev_minor', offset: 140, type: 'u32' },
  { name: '__spare2', offset: 144, type: 'bytes', size: 112 },
] as const);
export const STATX_TIME_OFFSET = { atime: 64, btime: 80, ctime: 96, mtime: 112 } as const;

export const FuseStatxOut = defineStruct('fuse_statx_out', 288, [
  { name: 'attr_valid', offset: 0, type: 'u64' },
  { name: 'attr_valid_nsec', offset: 8, type: 'u32' },
  { name: 'flags', offset: 12, type: 'u32' },
  { name: 'spare', offset: 16, type: 'bytes', size: 16 },
  { name: 'stat', offset: 32, type: 'bytes', size: 256, doc: 'struct fuse_statx' },
] as const);
export const STATX_OUT_STAT_OFFSET = 32;

/** fuse_dirent header; name[namelen] follows, record padded to 8 bytes. */
export const FuseDirent = defineStruct('fuse_dirent', 24, [
  { name: 'ino', offset: 0, type: 'u64', doc: 'd_ino; keep equal to attr.ino' },
  { name: 'off', offset: 8, type: 'u64', doc: 'cookie of the NEXT entry' },
  { name: 'namelen', offset: 16, type: 'u32' },
  { name: 'type', offset: 20, type: 'u32', doc: 'DT_* = (mode & S_IFMT) >> 12' },
] as const);
export const FUSE_NAME_OFFSET = 24;
/** fuse_direntplus = fuse_entry_out (128) + fuse_dirent. */
export const FUSE_NAME_OFFSET_DIRENTPLUS = 152;
export function direntAlign(x: number): number {
  return (x + 7) & ~7;
}

// Notifications (server -> kernel, unique 0, error = NotifyCode).
export const FuseNotifyInvalInodeOut = defineStruct('fuse_notify_inval_inode_out', 24, [
  { name: 'ino', offset: 0, type: 'u64', doc: 'nodeid' },
  { name: 'off', offset: 8, type: 'bytes', size: 8, doc: 's64; < 0 = attributes only' },
  { name: 'len', offset: 16, type: 'bytes', size: 8, doc: 's64; 0 = to end of file' },
] as const);

export const FuseNotifyInvalEntryOut = defineStruct('fuse_notify_inval_entry_out', 16, [
  { name: 'parent', offset: 0, type: 'u64' },
  { name: 'namelen', offset: 8, type: 'u32' },
  { name: 'flags', offset: 12, type: 'u32', doc: 'FUSE_EXPIRE_ONLY (7.38)' },
] as const);

export const FuseNotifyDeleteOut = defineStruct('fuse_notify_delete_out', 24, [
  { name: 'parent', offset: 0, type: 'u64' },
  { name: 'child', offset: 8, type: 'u64' },
  { name: 'namelen', offset: 16, type: 'u32' },
  { name: 'padding', offset: 20, type: 'u32' },
] as const);
