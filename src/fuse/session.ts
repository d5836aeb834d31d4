// Session options and INIT negotiation (fuse_init_in -> fuse_init_out):
// honour the kernel's major/minor, grant only what the kernel offered and we
// support, set flags2 only under FUSE_INIT_EXT, size max_write/max_pages.
// include/uapi/linux/fuse.h (INIT flags); protocol note §1.2.
import {
  FUSE_COMPAT_22_INIT_OUT_SIZE, FUSE_COMPAT_INIT_OUT_SIZE, FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION,
  FUSE_MAX_MAX_PAGES, FUSE_MIN_SUPPORTED_MINOR, InitFlags, InitFlags2, PAGE_SIZE,
} from './abi-consts.js';
import { FUSE_COMPAT_INIT_IN_SIZE, FuseInitIn, FuseInitOut } from './abi-structs.js';
import type { ConnectionInfo, FuseOps } from './ops.js';
import type { Logger } from './reply.js';

export interface SessionOptions {
  /** Largest WRITE payload (and READ size) to offer. Default 1 MiB. */
  maxWrite?: number;
  /** /proc/sys/fs/fuse/max_pages_limit. Default 256. */
  maxPagesLimit?: number;
  /** Cap on the kernel's readahead, bytes. Default: whatever the kernel proposes. */
  maxReadahead?: number;
  maxBackground?: number;
  congestionThreshold?: number;
  /** Timestamp granularity in ns: 1 for ns timestamps, 1e9 for seconds. Default 1. */
  timeGran?: number;
  /** Default entry/attr cache timeouts, seconds, preset in every EntryOut/AttrOut. Default 1. */
  entryTimeout?: number;
  attrTimeout?: number;
  /** READDIRPLUS: 'on' (always), 'auto' (kernel decides), 'off'. Default 'on' if ops.readdirplus exists. */
  readdirplus?: 'on' | 'auto' | 'off';
  /** FUSE_WRITEBACK_CACHE: the kernel caches writes and owns mtime/size. Default false. */
  writebackCache?: boolean;
  /** FUSE_POSIX_ACL: kernel enforces system.posix_acl_* (implies default_permissions). Default false. */
  posixAcl?: boolean;
  /** FUSE_EXPORT_SUPPORT (LOOKUP of "." and ".."); false also sends NO_EXPORT_SUPPORT. Default true. */
  exportSupport?: boolean;
  /** FUSE_HANDLE_KILLPRIV_V2: the fs clears suid/sgid (see ops.ts). Default true. */
  handleKillprivV2?: boolean;
  /** FUSE_SETXATTR_EXT: 16-byte fuse_setxattr_in. Default false. */
  setxattrExt?: boolean;
  asyncRead?: boolean; // default true
  atomicOTrunc?: boolean; // default true
  parallelDirops?: boolean; // default true
  cacheSymlinks?: boolean; // default true
  autoInvalData?: boolean; // default false
  /** One log line per problem. Default console.error. */
  log?: Logger;
  /** Log every request and its result. */
  debug?: boolean;
}

export const DEFAULT_MAX_WRITE = 1024 * 1024;
export const EPROTO = 71;

/** The request-buffer size a session needs: max(8192, max_write + 4096). */
export function requestBufferSize(opts: SessionOptions): number {
  return Math.max(8192, plannedMaxWrite(opts) + 4096);
}

function plannedMaxWrite(opts: SessionOptions): number {
  const limit = (opts.maxPagesLimit ?? FUSE_MAX_MAX_PAGES) * PAGE_SIZE;
  return Math.max(PAGE_SIZE, Math.min(opts.maxWrite ?? DEFAULT_MAX_WRITE, limit));
}

/** The capability bits we would like, given the options and which ops exist. */
export function wantedFlags(opts: SessionOptions, ops: FuseOps): { flags: number; flags2: number } {
  let f = InitFlags.BIG_WRITES | InitFlags.MAX_PAGES | InitFlags.INIT_EXT;
  if (opts.asyncRead !== false) f |= InitFlags.ASYNC_READ;
  if (opts.atomicOTrunc !== false) f |= InitFlags.ATOMIC_O_TRUNC;
  if (opts.exportSupport !== false) f |= InitFlags.EXPORT_SUPPORT;
  if (opts.parallelDirops !== false) f |= InitFlags.PARALLEL_DIROPS;
  if (opts.cacheSymlinks !== false) f |= InitFlags.CACHE_SYMLINKS;
  if (opts.handleKillprivV2 !== false) f |= InitFlags.HANDLE_KILLPRIV_V2;
  if (opts.writebackCache) f |= InitFlags.WRITEBACK_CACHE;
  if (opts.posixAcl) f |= InitFlags.POSIX_ACL;
  if (opts.setxattrExt) f |= InitFlags.SETXATTR_EXT;
  if (opts.autoInvalData) f |= InitFlags.AUTO_INVAL_DATA;
  if (ops.ioctl) f |= InitFlags.HAS_IOCTL_DIR;
  if (ops.getlk && ops.setlk) f |= InitFlags.POSIX_LOCKS | InitFlags.FLOCK_LOCKS;
  const rdp = opts.readdirplus ?? 'on';
  if (ops.readdirplus && rdp !== 'off') {
    f |= InitFlags.DO_READDIRPLUS;
    if (rdp === 'auto') f |= InitFlags.READDIRPLUS_AUTO;
  }
  let f2 = 0;
  if (opts.exportSupport === false) f2 |= InitFlags2.NO_EXPORT_SUPPORT;
  return { flags: f >>> 0, flags2: f2 >>> 0 };
}

export type InitResult =
  | { kind: 'ok'; conn: ConnectionInfo; replyLen: number }
  | { kind: 'error'; errno: number }
  /** Kernel major > 7: we answered with our version and wait for another INIT. */
  | { kind: 'retry'; replyLen: number };

/**
 * Negotiate from the INIT arguments at `input` (argLen bytes), writing
 * fuse_init_out into `out` (>= 64 bytes).
 */
export function negotiateInit(input: Uint8Array, argLen: number, out: Uint8Array, opts: SessionOptions,
  ops: FuseOps): InitResult {
  if (argLen < FUSE_COMPAT_INIT_IN_SIZE) return { kind: 'error', errno: 22 };
  const inp = new FuseInitIn(padInit(input, argLen));
  const major = inp.major;
  const minor = inp.minor;
  const o = new FuseInitOut(out);
  out.fill(0, 0, FuseInitOut.size);
  if (major < FUSE_KERNEL_VERSION) return { kind: 'error', errno: EPROTO };
  if (major > FUSE_KERNEL_VERSION) {
    o.major = FUSE_KERNEL_VERSION;
    o.minor = FUSE_KERNEL_MINOR_VERSION;
    return { kind: 'retry', replyLen: FUSE_COMPAT_INIT_OUT_SIZE };
  }
  if (minor < FUSE_MIN_SUPPORTED_MINOR) return { kind: 'error', errno: EPROTO };
  const kernelFlags = inp.flags >>> 0;
  const hasExt = (kernelFlags & InitFlags.INIT_EXT) !== 0 && argLen >= FuseInitIn.size;
  const kernelFlags2 = hasExt ? inp.flags2 >>> 0 : 0;

  const want = wantedFlags(opts, ops);
  const flags = (want.flags & kernelFlags) >>> 0;
  const flags2 = (flags & InitFlags.INIT_EXT) !== 0 ? (want.flags2 & kernelFlags2) >>> 0 : 0;

  let maxWrite = plannedMaxWrite(opts);
  let maxPages = 0;
  if ((flags & InitFlags.MAX_PAGES) !== 0) {
    maxPages = Math.min(Math.ceil(maxWrite / PAGE_SIZE), opts.maxPagesLimit ?? FUSE_MAX_MAX_PAGES);
    maxWrite = Math.min(maxWrite, maxPages * PAGE_SIZE);
  } else {
    maxWrite = Math.min(maxWrite, 32 * PAGE_SIZE); // the kernel's default FUSE_DEFAULT_MAX_PAGES_PER_REQ
  }
  if ((flags & InitFlags.BIG_WRITES) === 0) maxWrite = PAGE_SIZE;
  const maxReadahead = Math.min(inp.max_readahead, opts.maxReadahead ?? inp.max_readahead);
  const timeGran = opts.timeGran ?? 1;
  const replyMinor = Math.min(minor, FUSE_KERNEL_MINOR_VERSION);

  o.major = FUSE_KERNEL_VERSION;
  o.minor = FUSE_KERNEL_MINOR_VERSION;
  o.max_readahead = maxReadahead;
  o.flags = flags;
  o.max_background = opts.maxBackground ?? 0;
  o.congestion_threshold = opts.congestionThreshold ?? 0;
  o.max_write = maxWrite;
  o.time_gran = timeGran;
  o.max_pages = maxPages;
  o.flags2 = flags2;
  const replyLen = minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : FuseInitOut.size;
  const conn: ConnectionInfo = {
    major: FUSE_KERNEL_VERSION, minor: replyMinor, flags, flags2, kernelFlags, kernelFlags2,
    maxWrite, maxReadahead, maxPages, timeGran,
    writebackCache: (flags & InitFlags.WRITEBACK_CACHE) !== 0,
    posixAcl: (flags & InitFlags.POSIX_ACL) !== 0,
  };
  return { kind: 'ok', conn, replyLen };
}

/** fuse_init_in is 16 bytes before 7.36: present it as a zero-padded 64-byte struct. */
function padInit(input: Uint8Array, argLen: number): Uint8Array {
  if (argLen >= FuseInitIn.size) return input;
  const p = new Uint8Array(FuseInitIn.size);
  p.set(input.subarray(0, argLen));
  return p;
}
