// The filesystem-side interface of the FUSE layer: a low-level, nodeid-based,
// synchronous API in the style of libfuse's fuse_lowlevel_ops (include/
// fuse_lowlevel.h), shaped so the hot path allocates nothing.
// See shared/notes/fuse-kernel-protocol.md §1.3, §2.2–§2.4.
//
// Conventions
// - Every method returns an errno number: 0 = success, a positive errno value
//   (Errno.ENOENT, ...) = failure. Results are written into an `out` object the
//   dispatcher owns and reuses; it is reset (zeros, default timeouts) before
//   each call. Never keep `ctx`, `out`, names or data views after returning:
//   they are views into reused buffers.
// - Names are raw bytes (Uint8Array views into the request); the fuse layer has
//   checked they are non-empty and contain no '/' (TMPFILE's name is "/").
// - `ctx.nodeid` is the node the request is about (the parent directory for
//   LOOKUP, MKDIR, CREATE, ...; the new parent for LINK).
// - Lookup counting: every successful reply carrying an EntryOut with nodeid != 0
//   (lookup, mknod, mkdir, symlink, link, create, tmpfile, and each readdirplus
//   entry that fitted, except "." and "..") is one kernel reference; forget()
//   gives them back. A method that fills an EntryOut and returns 0 must count it.
// - Unimplemented optional methods are answered ENOSYS (for most opcodes the
//   kernel then stops sending them), except: xattr methods (never ENOSYS: a
//   missing getxattr/removexattr answers ENODATA, listxattr an empty list,
//   setxattr EOPNOTSUPP; an ENOSYS returned by them becomes EOPNOTSUPP);
//   open/opendir (fh 0) and release/releasedir (success), like libfuse;
//   statfs (libfuse's defaults: bsize 512, namelen 255); rename without a
//   method answers RENAME2 with EINVAL; ioctl ENOTTY; INTERRUPT and POLL are
//   always ENOSYS (answered by the FUSE layer).
// - Locks: the FUSE layer negotiates POSIX_LOCKS/FLOCK_LOCKS only if getlk and
//   setlk are both implemented; otherwise the kernel does local locking and
//   never sends GETLK/SETLK/SETLKW.
// - Mode/umask: unless the posixAcl session option was negotiated, the kernel
//   has already applied the umask to `mode`; with it, the fs applies `umask`
//   (or the default ACL) itself.
// - KILL_SUIDGID (handle_killpriv_v2, on by default): the fs clears S_ISUID,
//   and S_ISGID when group-executable, on WRITE with FUSE_WRITE_KILL_SUIDGID,
//   on SETATTR with FATTR_KILL_SUIDGID, and on OPEN/CREATE with
//   FUSE_OPEN_KILL_SUIDGID in `openFlags`.
// - With atomic_o_trunc (on by default), open() receives O_TRUNC and must truncate.
// - Anything thrown becomes EIO with one log line, unless the thrown object has a
//   numeric `errno` property (e.g. a corruption error with EUCLEAN), which is
//   replied instead.

/** The parsed request header, reused between requests. */
export interface RequestContext {
  readonly opcode: number;
  readonly unique: number;
  readonly nodeid: number;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** struct fuse_attr in plain names. Times are seconds (may be negative) + nanoseconds. */
export interface Attr {
  ino: number;
  size: number;
  /** 512-byte units. */
  blocks: number;
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  ctime: number;
  ctimeNsec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  flags: number;
}

export interface EntryOut {
  /** 0 = negative entry (cached for entryTimeout; counts no lookup). */
  nodeid: number;
  generation: number;
  /** Seconds (fractions allowed). Defaults come from the session options. */
  entryTimeout: number;
  attrTimeout: number;
  readonly attr: Attr;
}

export interface AttrOut {
  attrTimeout: number;
  readonly attr: Attr;
}

export interface OpenOut {
  fh: number;
  /** FOPEN_* bits. */
  openFlags: number;
  backingId: number;
}

/**
 * Variable-length reply data. Either copy into `dest` (capacity = what the
 * kernel asked for, or the reply buffer) and set `length`, or point `data` at
 * bytes you already hold (sent without a copy via writev).
 */
export interface DataOut {
  readonly dest: Uint8Array;
  length: number;
  data: Uint8Array | null;
}

export interface IoctlOut extends DataOut {
  /** ioctl(2) return value on success. */
  result: number;
}

/** One number: bytes written/copied, an lseek offset, a bmap block. */
export interface NumOut {
  value: number;
}

export interface StatfsOut {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** struct fuse_statx_out in plain names (statx(2) fields). */
export interface StatxOut {
  attrTimeout: number;
  flags: number;
  /** STATX_* bits actually filled. */
  mask: number;
  blksize: number;
  attributes: number;
  attributesMask: number;
  nlink: number;
  uid: number;
  gid: number;
  mode: number;
  ino: number;
  size: number;
  blocks: number;
  atime: number;
  atimeNsec: number;
  btime: number;
  btimeNsec: number;
  ctime: number;
  ctimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
}

/** fuse_setattr_in in plain names; read `valid` (FATTR_*) to know which are set. */
export interface SetattrIn {
  valid: number;
  fh: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  ctime: number;
  ctimeNsec: number;
}

export interface LockIn {
  fh: number;
  owner: bigint;
  start: bigint;
  end: bigint;
  type: number;
  pid: number;
  /** FUSE_LK_FLOCK for flock(2). */
  lkFlags: number;
}

export interface LockOut {
  start: bigint;
  end: bigint;
  type: number;
  pid: number;
}

/** READDIR sink: `add` returns false when the record did not fit (stop; do not advance). */
export interface DirentSink {
  add(name: Uint8Array | string, ino: number, dtype: number, nextOffset: number): boolean;
}

/**
 * READDIRPLUS sink. Fill `entry` (reset by `nextEntry()`), then `add`. An entry
 * counts one lookup only if `add` returned true, `entry.nodeid` != 0 and the
 * name is not "." or "..". For "." and ".." give nodeid 0 with attr.ino/mode set.
 */
export interface DirentPlusSink {
  nextEntry(): EntryOut;
  add(name: Uint8Array | string, entry: EntryOut, nextOffset: number): boolean;
}

/** What INIT negotiated (passed to init()). */
export interface ConnectionInfo {
  readonly major: number;
  readonly minor: number;
  /** InitFlags bits granted, and flags2 bits granted (0 without INIT_EXT). */
  readonly flags: number;
  readonly flags2: number;
  /** What the kernel offered. */
  readonly kernelFlags: number;
  readonly kernelFlags2: number;
  readonly maxWrite: number;
  readonly maxReadahead: number;
  readonly maxPages: number;
  readonly timeGran: number;
  readonly writebackCache: boolean;
  readonly posixAcl: boolean;
}

/** Queued kernel notifications; sent after the current request's reply. */
export interface Notifier {
  invalEntry(parent: number, name: Uint8Array | string, expireOnly?: boolean): void;
  /** off < 0: attributes only; len 0: to end of file. */
  invalInode(nodeid: number, off?: number, len?: number): void;
  delete(parent: number, child: number, name: Uint8Array | string): void;
}

type Ctx = RequestContext;
type Name = Uint8Array;

export interface FuseOps {
  init?(conn: ConnectionInfo, notifier: Notifier): void;
  /** DESTROY (fuseblk only) or session end. */
  destroy?(): void;

  lookup?(ctx: Ctx, name: Name, out: EntryOut): number;
  /** FORGET and each BATCH_FORGET pair. No reply. */
  forget?(nodeid: number, nlookup: number): void;
  getattr?(ctx: Ctx, fh: number | null, out: AttrOut): number;
  setattr?(ctx: Ctx, set: SetattrIn, out: AttrOut): number;
  readlink?(ctx: Ctx, out: DataOut): number;
  symlink?(ctx: Ctx, name: Name, target: Uint8Array, out: EntryOut): number;
  mknod?(ctx: Ctx, name: Name, mode: number, rdev: number, umask: number, out: EntryOut): number;
  mkdir?(ctx: Ctx, name: Name, mode: number, umask: number, out: EntryOut): number;
  unlink?(ctx: Ctx, name: Name): number;
  rmdir?(ctx: Ctx, name: Name): number;
  /** RENAME (flags 0) and RENAME2 (RENAME.NOREPLACE / EXCHANGE / WHITEOUT: EINVAL if unsupported). */
  rename?(ctx: Ctx, name: Name, newParent: number, newName: Name, flags: number): number;
  /** ctx.nodeid = new parent; must return oldNodeid in out.nodeid with the new nlink. */
  link?(ctx: Ctx, oldNodeid: number, newName: Name, out: EntryOut): number;
  open?(ctx: Ctx, flags: number, openFlags: number, out: OpenOut): number;
  create?(ctx: Ctx, name: Name, mode: number, umask: number, flags: number, openFlags: number,
    entry: EntryOut, open: OpenOut): number;
  /** O_TMPFILE: an unnamed file in directory ctx.nodeid with nlink 0. */
  tmpfile?(ctx: Ctx, mode: number, umask: number, flags: number, entry: EntryOut, open: OpenOut): number;
  /** Short data = EOF. out.dest has exactly `size` bytes of capacity. */
  read?(ctx: Ctx, fh: number, offset: number, size: number, out: DataOut): number;
  /** out.value = bytes written. */
  write?(ctx: Ctx, fh: number, offset: number, data: Uint8Array, writeFlags: number, out: NumOut): number;
  flush?(ctx: Ctx, fh: number): number;
  release?(ctx: Ctx, fh: number, flags: number, releaseFlags: number): number;
  fsync?(ctx: Ctx, fh: number, datasync: boolean): number;
  opendir?(ctx: Ctx, flags: number, out: OpenOut): number;
  /** offset 0 = start, else a nextOffset cookie given earlier. Add entries until add() returns false. */
  readdir?(ctx: Ctx, fh: number, offset: number, out: DirentSink): number;
  /** If absent, READDIRPLUS is not negotiated. */
  readdirplus?(ctx: Ctx, fh: number, offset: number, out: DirentPlusSink): number;
  releasedir?(ctx: Ctx, fh: number, flags: number): number;
  fsyncdir?(ctx: Ctx, fh: number, datasync: boolean): number;
  statfs?(ctx: Ctx, out: StatfsOut): number;
  access?(ctx: Ctx, mask: number): number;
  /** Put the whole value in out; size probe and ERANGE are handled by the FUSE layer. ENODATA if absent. */
  getxattr?(ctx: Ctx, name: Name, out: DataOut): number;
  /** flags: XATTR_CREATE / XATTR_REPLACE. setxattrFlags only with the setxattrExt option. */
  setxattr?(ctx: Ctx, name: Name, value: Uint8Array, flags: number, setxattrFlags: number): number;
  /** NUL-terminated names back to back, in out. */
  listxattr?(ctx: Ctx, out: DataOut): number;
  removexattr?(ctx: Ctx, name: Name): number;
  fallocate?(ctx: Ctx, fh: number, offset: number, length: number, mode: number): number;
  /** whence SEEK_DATA 3 / SEEK_HOLE 4 (others are handled by the kernel); out.value = offset. */
  lseek?(ctx: Ctx, fh: number, offset: number, whence: number, out: NumOut): number;
  /** COPY_FILE_RANGE and COPY_FILE_RANGE_64; ctx.nodeid = input node. out.value = bytes copied. */
  copyFileRange?(ctx: Ctx, fhIn: number, offIn: number, nodeidOut: number, fhOut: number, offOut: number,
    len: number, flags: number, out: NumOut): number;
  statx?(ctx: Ctx, fh: number | null, sxFlags: number, sxMask: number, out: StatxOut): number;
  /** Unknown cmd: ENOTTY. inData has in_size bytes; out.dest has outSize bytes of capacity. */
  ioctl?(ctx: Ctx, fh: number, cmd: number, arg: number, flags: number, inData: Uint8Array, outSize: number,
    out: IoctlOut): number;
  bmap?(ctx: Ctx, block: number, blocksize: number, out: NumOut): number;
  syncfs?(ctx: Ctx): number;
  getlk?(ctx: Ctx, lock: LockIn, out: LockOut): number;
  /** SETLK (sleep false) and SETLKW (sleep true). */
  setlk?(ctx: Ctx, lock: LockIn, sleep: boolean): number;
}

export type FuseOpName = keyof FuseOps;
