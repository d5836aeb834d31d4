// The bridge: FUSE low-level operations (src/fuse/ops.ts) on an ext2 Filesystem
// (src/ext2/fs.ts). The only module that knows both (DESIGN.md "Layers").
//
// Nodeids are inode numbers, except nodeid 1 <-> inode 2 (the root, reported
// with st_ino 2 and generation 0). Every entry reply counts one kernel lookup on
// the inode (pinning it in the volume's inode table); FORGET gives them back and
// lets an unlinked inode go. Errors: the ext2 layer returns -errno, FUSE wants
// +errno; corruption errors carry errno EUCLEAN and are replied as such.
import { Errno } from '../util/errno.js';
import type { Logger } from '../util/log.js';
import { Filesystem, type Attr as FsAttr } from '../ext2/fs.js';
import { CorruptionError } from '../ext2/errors.js';
import { ROOT_INO, S_IFMT, S_IFDIR, S_IFREG, InodeFlags } from '../ext2/layout/inode.js';
import { walkRuns } from '../ext2/file.js';
import { FATTR, FOPEN, FUSE_OPEN_KILL_SUIDGID, FUSE_WRITE_KILL_SUIDGID, dtypeOfMode } from '../fuse/abi-consts.js';
import type {
  Attr, AttrOut, ConnectionInfo, DataOut, DirentPlusSink, DirentSink, EntryOut, FuseOps, IoctlOut, NumOut,
  Notifier, OpenOut, RequestContext, SetattrIn, StatfsOut, StatxOut,
} from '../fuse/ops.js';
import { handleIoctl } from './ioctl.js';

const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
const DOT = 0x2e;

export interface BridgeOptions {
  /** Commit on FLUSH/RELEASE of a handle that wrote (default true). */
  commitOnClose?: boolean;
  /** Commit when this many ms passed since the last commit and something is pending (checked per request). */
  commitIntervalMs?: number;
  /** Map every file to this owner (fuse2fs -o uid=,gid=). */
  uid?: number;
  gid?: number;
  /** fuse2fs fakeroot: report root as the owner of everything. */
  fakeroot?: boolean;
  /** What damage found while serving does (-o errors=); default: the superblock's s_errors. */
  errors?: ErrorPolicy;
  log?: Logger;
}

export type ErrorPolicy = 'continue' | 'remount-ro' | 'panic';

/** s_errors: 1 continue, 2 remount read-only, 3 panic (Documentation/filesystems/ext4/super.rst). */
function policyFromSuperblock(sErrors: number): ErrorPolicy {
  return sErrors === 2 ? 'remount-ro' : sErrors === 3 ? 'panic' : 'continue';
}

export function nodeToIno(nodeid: number): number {
  return nodeid === 1 ? ROOT_INO : nodeid;
}
export function inoToNode(ino: number): number {
  return ino === ROOT_INO ? 1 : ino;
}

function neg(r: number): number {
  return r < 0 ? -r : 0;
}

export class Ext2Ops implements FuseOps {
  /**
   * Files whose data changed (write, truncate, fallocate, copy) since the last
   * commit: their close commits, so what a program wrote is in the image once it
   * closed the file. Metadata-only changes (create, chmod, utimes, flags) ride
   * on the next commit point (timer, fsync, a data file's close, unmount).
   */
  private dirty = new Set<number>();
  private lastCommit = Date.now();
  private notifier: Notifier | null = null;
  private readonly commitOnClose: boolean;
  private readonly commitIntervalMs: number;

  constructor(readonly fs: Filesystem, private readonly opts: BridgeOptions = {}) {
    this.commitOnClose = opts.commitOnClose ?? true;
    this.commitIntervalMs = opts.commitIntervalMs ?? 5000;
    // The root is always referenced.
    fs.vol.inodes.pin(ROOT_INO);
    this.errorPolicy = opts.errors ?? policyFromSuperblock(fs.vol.sb.s_errors);
    if (this.errorPolicy !== 'continue') this.guardOperations();
  }

  readonly errorPolicy: ErrorPolicy;

  /**
   * errors=remount-ro|panic: every operation that meets damage (a CorruptionError,
   * replied as EUCLEAN by the FUSE layer) first applies the policy, as ext4_error does.
   */
  private guardOperations(): void {
    const self = this as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(Ext2Ops.prototype)) {
      const f = self[name];
      if (name === 'constructor' || typeof f !== 'function') continue;
      self[name] = (...args: unknown[]) => {
        try {
          return (f as (...a: unknown[]) => unknown).apply(this, args);
        } catch (e) {
          if (e instanceof CorruptionError) this.onDamage(e);
          throw e;
        }
      };
    }
  }

  private onDamage(e: CorruptionError): void {
    if (this.errorPolicy === 'remount-ro') {
      this.fs.vol.forceReadOnly(`errors=remount-ro after: ${e.message}`);
    } else if (this.errorPolicy === 'panic') {
      this.opts.log?.error(`errors=panic: ${e.message}; stopping the server`);
      process.exit(1);
    }
  }

  private get readOnly(): boolean { return this.fs.readOnly; }

  /** Called after each request by the bridge's own wrappers: the periodic commit. */
  private maybeCommit(): void {
    if (this.readOnly) return;
    if (this.fs.vol.txn.hasPending && Date.now() - this.lastCommit >= this.commitIntervalMs) this.commit();
  }

  /** Durable commit (fsync, syncfs, unmount) or a write-out without barriers (close, timer). */
  commit(durable = true): void {
    if (this.readOnly) return;
    this.fs.vol.txn.commit({ durable });
    this.lastCommit = Date.now();
    this.dirty.clear(); // everything written so far is in the image now
  }

  // ---- attrs ---------------------------------------------------------------------

  fillAttr(a: FsAttr, out: Attr): void {
    out.ino = a.ino;
    out.size = a.size;
    out.blocks = a.blocks;
    out.atime = a.atime.sec; out.atimeNsec = a.atime.nsec;
    out.mtime = a.mtime.sec; out.mtimeNsec = a.mtime.nsec;
    out.ctime = a.ctime.sec; out.ctimeNsec = a.ctime.nsec;
    out.mode = a.mode;
    out.nlink = a.nlink;
    out.uid = this.shownUid(a.uid);
    out.gid = this.shownGid(a.gid);
    out.rdev = a.rdev;
    out.blksize = a.blksize;
    out.flags = 0;
  }

  /** Owners as reported to the kernel: -o fakeroot / uid= / gid= override the inode's. */
  private shownUid(uid: number): number { return this.opts.fakeroot ? 0 : this.opts.uid ?? uid; }
  private shownGid(gid: number): number { return this.opts.fakeroot ? 0 : this.opts.gid ?? gid; }

  /** Fill an entry for inode `ino` and count one kernel lookup on it. */
  private entry(ino: number, out: EntryOut): number {
    const a = this.fs.getattr(ino);
    out.nodeid = inoToNode(ino);
    out.generation = ino === ROOT_INO ? 0 : a.generation;
    this.fillAttr(a, out.attr);
    this.addLookup(ino);
    return 0;
  }

  private addLookup(ino: number): void {
    const inode = this.fs.vol.inodes.get(ino);
    if (inode.nlookup === 0) this.fs.vol.inodes.pin(ino);
    inode.nlookup++;
  }

  // ---- FuseOps ---------------------------------------------------------------------

  init(_conn: ConnectionInfo, notifier: Notifier): void {
    this.notifier = notifier;
  }

  destroy(): void {
    if (!this.readOnly) {
      this.fs.dropAllLookups();
      this.commit();
    }
    this.fs.close();
  }

  lookup(ctx: RequestContext, name: Uint8Array, out: EntryOut): number {
    const ino = this.fs.lookup(nodeToIno(ctx.nodeid), name);
    if (ino < 0) return -ino;
    return this.entry(ino, out);
  }

  forget(nodeid: number, nlookup: number): void {
    const ino = nodeToIno(nodeid);
    const inode = this.fs.vol.inodes.peek(ino);
    if (!inode || inode.nlookup === 0) {
      this.opts.log?.error(`FORGET of ${nlookup} on inode ${ino} with no lookups (underflow)`);
      return;
    }
    const n = Math.min(nlookup, inode.nlookup);
    if (n < nlookup) this.opts.log?.error(`FORGET of ${nlookup} on inode ${ino} with only ${inode.nlookup} lookups`);
    this.fs.forget(ino, n);
    if (inode.nlookup === 0) this.fs.vol.inodes.unpin(ino);
    this.maybeCommit();
  }

  getattr(ctx: RequestContext, _fh: number | null, out: AttrOut): number {
    this.fillAttr(this.fs.getattr(nodeToIno(ctx.nodeid)), out.attr);
    this.maybeCommit();
    return 0;
  }

  setattr(ctx: RequestContext, s: SetattrIn, out: AttrOut): number {
    const ino = nodeToIno(ctx.nodeid);
    const v = s.valid;
    const set: Parameters<Filesystem['setattr']>[1] = {};
    if (v & FATTR.MODE) set.mode = s.mode;
    if (v & FATTR.UID) set.uid = s.uid;
    if (v & FATTR.GID) set.gid = s.gid;
    if (v & FATTR.SIZE) set.size = s.size;
    if (v & FATTR.ATIME_NOW) set.atime = 'now';
    else if (v & FATTR.ATIME) set.atime = { sec: s.atime, nsec: s.atimeNsec };
    if (v & FATTR.MTIME_NOW) set.mtime = 'now';
    else if (v & FATTR.MTIME) set.mtime = { sec: s.mtime, nsec: s.mtimeNsec };
    if (v & FATTR.CTIME) set.ctime = { sec: s.ctime, nsec: s.ctimeNsec };
    if (v & FATTR.KILL_SUIDGID || ((v & (FATTR.UID | FATTR.GID)) && !(v & FATTR.MODE))) {
      const a = this.fs.getattr(ino);
      if ((a.mode & S_IFMT) !== S_IFDIR && (a.mode & (S_ISUID | S_ISGID)) && (v & FATTR.KILL_SUIDGID)) {
        set.mode = a.mode & ~S_ISUID & ~((a.mode & S_IXGRP) ? S_ISGID : 0);
      }
    }
    const r = this.fs.setattr(ino, set);
    if (r < 0) return -r;
    this.fillAttr(this.fs.getattr(ino), out.attr);
    if (v & FATTR.SIZE) this.dirty.add(ino);
    return 0;
  }

  readlink(ctx: RequestContext, out: DataOut): number {
    const r = this.fs.readlink(nodeToIno(ctx.nodeid));
    if (typeof r === 'number') return -r;
    out.data = r;
    return 0;
  }

  symlink(ctx: RequestContext, name: Uint8Array, target: Uint8Array, out: EntryOut): number {
    const r = this.fs.symlink(nodeToIno(ctx.nodeid), name, target, ctx.uid, ctx.gid);
    if (r < 0) return -r;
    return this.entry(r, out);
  }

  mknod(ctx: RequestContext, name: Uint8Array, mode: number, rdev: number, _umask: number, out: EntryOut): number {
    const r = this.fs.mknod(nodeToIno(ctx.nodeid), name, mode, ctx.uid, this.newGid(ctx), rdev);
    if (r < 0) return -r;
    return this.entry(r, out);
  }

  mkdir(ctx: RequestContext, name: Uint8Array, mode: number, _umask: number, out: EntryOut): number {
    const parent = nodeToIno(ctx.nodeid);
    const pa = this.fs.getattr(parent);
    // setgid directories pass their group and the setgid bit on (as the kernel's inode_init_owner).
    const m = (pa.mode & S_ISGID) ? (mode | S_ISGID) : mode;
    const r = this.fs.mkdir(parent, name, m & 0o7777, ctx.uid, this.newGid(ctx));
    if (r < 0) return -r;
    return this.entry(r, out);
  }

  /** Group of a new inode: the parent's when it is setgid, else the caller's. */
  private newGid(ctx: RequestContext): number {
    const pa = this.fs.getattr(nodeToIno(ctx.nodeid));
    return (pa.mode & S_ISGID) ? pa.gid : ctx.gid;
  }

  unlink(ctx: RequestContext, name: Uint8Array): number {
    return neg(this.fs.unlink(nodeToIno(ctx.nodeid), name));
  }

  rmdir(ctx: RequestContext, name: Uint8Array): number {
    return neg(this.fs.rmdir(nodeToIno(ctx.nodeid), name));
  }

  rename(ctx: RequestContext, name: Uint8Array, newParent: number, newName: Uint8Array, flags: number): number {
    return neg(this.fs.rename(nodeToIno(ctx.nodeid), name, nodeToIno(newParent), newName, flags));
  }

  link(ctx: RequestContext, oldNodeid: number, newName: Uint8Array, out: EntryOut): number {
    const ino = nodeToIno(oldNodeid);
    const r = this.fs.link(ino, nodeToIno(ctx.nodeid), newName);
    if (r < 0) return -r;
    return this.entry(ino, out);
  }

  private openFlagsOut(): number {
    return FOPEN.KEEP_CACHE;
  }

  open(ctx: RequestContext, flags: number, openFlags: number, out: OpenOut): number {
    const ino = nodeToIno(ctx.nodeid);
    const a = this.fs.getattr(ino);
    if ((a.mode & S_IFMT) === S_IFDIR) return Errno.EISDIR;
    const writing = (flags & O_ACCMODE) !== 0;
    if (writing && this.readOnly) return Errno.EROFS;
    if (writing && (a.flags & InodeFlags.IMMUTABLE)) return Errno.EPERM;
    const fh = this.fs.open(ino, flags);
    if (fh < 0) return -fh;
    if ((flags & O_TRUNC) && (a.mode & S_IFMT) === S_IFREG && writing) {
      const r = this.fs.setattr(ino, { size: 0 });
      if (r < 0) { this.fs.release(fh); return -r; }
      this.dirty.add(ino);
    }
    if (openFlags & FUSE_OPEN_KILL_SUIDGID) this.killSuid(ino);
    out.fh = fh;
    out.openFlags = this.openFlagsOut();
    return 0;
  }

  private killSuid(ino: number): void {
    const a = this.fs.getattr(ino);
    if (a.mode & S_ISUID || (a.mode & S_ISGID && a.mode & S_IXGRP)) {
      this.fs.setattr(ino, { mode: a.mode & ~S_ISUID & ~((a.mode & S_IXGRP) ? S_ISGID : 0) });
    }
  }

  create(ctx: RequestContext, name: Uint8Array, mode: number, _umask: number, flags: number, _openFlags: number,
    entry: EntryOut, open: OpenOut): number {
    const r = this.fs.create(nodeToIno(ctx.nodeid), name, mode & 0o7777, ctx.uid, this.newGid(ctx));
    if (r < 0) return -r;
    const fh = this.fs.open(r, flags);
    if (fh < 0) return -fh;
    this.entry(r, entry);
    open.fh = fh;
    open.openFlags = this.openFlagsOut();
    return 0;
  }

  tmpfile(ctx: RequestContext, mode: number, _umask: number, flags: number, entry: EntryOut, open: OpenOut): number {
    const r = this.fs.tmpfile(nodeToIno(ctx.nodeid), mode & 0o7777, ctx.uid, this.newGid(ctx), flags);
    if (typeof r === 'number') return -r;
    const [ino, fh] = r;
    this.entry(ino, entry);
    open.fh = fh;
    open.openFlags = this.openFlagsOut();
    return 0;
  }

  read(ctx: RequestContext, _fh: number, offset: number, size: number, out: DataOut): number {
    const n = this.fs.read(nodeToIno(ctx.nodeid), offset, out.dest.subarray(0, size));
    if (n < 0) return -n;
    out.length = n;
    return 0;
  }

  write(ctx: RequestContext, _fh: number, offset: number, data: Uint8Array, writeFlags: number, out: NumOut): number {
    const ino = nodeToIno(ctx.nodeid);
    const n = this.fs.writeData(ino, offset, data);
    if (n < 0) return -n;
    if (writeFlags & FUSE_WRITE_KILL_SUIDGID) this.killSuid(ino);
    out.value = n;
    this.dirty.add(ino);
    return 0;
  }

  flush(ctx: RequestContext, _fh: number): number {
    const ino = nodeToIno(ctx.nodeid);
    if (this.commitOnClose && this.dirty.has(ino)) this.commit(false);
    return 0;
  }

  release(ctx: RequestContext, fh: number, _flags: number, _releaseFlags: number): number {
    const r = this.fs.release(fh);
    this.maybeCommit();
    return neg(r);
  }

  fsync(_ctx: RequestContext, _fh: number, _datasync: boolean): number {
    this.commit();
    return 0;
  }

  opendir(ctx: RequestContext, _flags: number, out: OpenOut): number {
    const a = this.fs.getattr(nodeToIno(ctx.nodeid));
    if ((a.mode & S_IFMT) !== S_IFDIR) return Errno.ENOTDIR;
    out.fh = 0;
    out.openFlags = FOPEN.CACHE_DIR | FOPEN.KEEP_CACHE;
    return 0;
  }

  readdir(ctx: RequestContext, _fh: number, offset: number, out: DirentSink): number {
    const r = this.fs.readdir(nodeToIno(ctx.nodeid), offset, (ino, name, _ft, next) => {
      const mode = this.fs.getattr(ino).mode;
      return out.add(name, ino, dtypeOfMode(mode), next);
    });
    return neg(r);
  }

  readdirplus(ctx: RequestContext, _fh: number, offset: number, out: DirentPlusSink): number {
    const r = this.fs.readdir(nodeToIno(ctx.nodeid), offset, (ino, name, _ft, next) => {
      const e = out.nextEntry();
      const a = this.fs.getattr(ino);
      const dot = name.length <= 2 && name[0] === DOT && (name.length === 1 || name[1] === DOT);
      this.fillAttr(a, e.attr);
      if (dot) {
        e.nodeid = 0;
        return out.add(name, e, next);
      }
      e.nodeid = inoToNode(ino);
      e.generation = ino === ROOT_INO ? 0 : a.generation;
      const added = out.add(name, e, next);
      if (added) this.addLookup(ino);
      return added;
    });
    return neg(r);
  }

  releasedir(): number {
    this.maybeCommit();
    return 0;
  }

  fsyncdir(): number {
    this.commit();
    return 0;
  }

  statfs(_ctx: RequestContext, out: StatfsOut): number {
    const s = this.fs.statfs();
    out.blocks = s.blocks; out.bfree = s.bfree; out.bavail = s.bavail; out.files = s.files; out.ffree = s.ffree;
    out.bsize = s.bsize; out.namelen = s.namelen; out.frsize = s.frsize;
    this.maybeCommit();
    return 0;
  }

  getxattr(ctx: RequestContext, name: Uint8Array, out: DataOut): number {
    const r = this.fs.getxattr(nodeToIno(ctx.nodeid), name);
    if (typeof r === 'number') return -r;
    out.data = r;
    return 0;
  }

  setxattr(ctx: RequestContext, name: Uint8Array, value: Uint8Array, flags: number): number {
    const ino = nodeToIno(ctx.nodeid);
    const accessAcl = name.length === 23 && Buffer.from(name).toString('latin1') === 'system.posix_acl_access';
    const before = accessAcl ? this.fs.getattr(ino).mode : 0;
    const r = this.fs.setxattr(ino, name, value, flags);
    // An access ACL sets the permission bits; without FUSE_POSIX_ACL the kernel
    // keeps its cached attributes after SETXATTR (cp -a showed the old mode).
    if (r === 0 && accessAcl && this.fs.getattr(ino).mode !== before) this.notifier?.invalInode(ctx.nodeid, -1, 0);
    return neg(r);
  }

  listxattr(ctx: RequestContext, out: DataOut): number {
    const names = this.fs.listxattr(nodeToIno(ctx.nodeid));
    const parts = names.map((n) => Buffer.from(n + '\0', 'latin1'));
    out.data = Buffer.concat(parts);
    return 0;
  }

  removexattr(ctx: RequestContext, name: Uint8Array): number {
    return neg(this.fs.removexattr(nodeToIno(ctx.nodeid), name));
  }

  fallocate(ctx: RequestContext, _fh: number, offset: number, length: number, mode: number): number {
    const ino = nodeToIno(ctx.nodeid);
    const r = this.fs.fallocate(ino, mode, offset, length);
    if (r === 0) this.dirty.add(ino);
    return neg(r);
  }

  lseek(ctx: RequestContext, _fh: number, offset: number, whence: number, out: NumOut): number {
    const r = this.fs.seek(nodeToIno(ctx.nodeid), offset, whence);
    if (r < 0) return -r;
    out.value = r;
    return 0;
  }

  copyFileRange(ctx: RequestContext, _fhIn: number, offIn: number, nodeidOut: number, _fhOut: number, offOut: number,
    len: number, _flags: number, out: NumOut): number {
    const src = nodeToIno(ctx.nodeid);
    const dst = nodeToIno(nodeidOut);
    const buf = new Uint8Array(Math.min(len, 1 << 20));
    let done = 0;
    while (done < len) {
      const n = this.fs.read(src, offIn + done, buf.subarray(0, Math.min(buf.length, len - done)));
      if (n < 0) return -n;
      if (n === 0) break;
      const w = this.fs.writeData(dst, offOut + done, buf.subarray(0, n));
      if (w < 0) { if (done > 0) break; return -w; }
      done += w;
    }
    out.value = done;
    this.dirty.add(dst);
    return 0;
  }

  statx(ctx: RequestContext, _fh: number | null, _sxFlags: number, _sxMask: number, out: StatxOut): number {
    const a = this.fs.getattr(nodeToIno(ctx.nodeid));
    const STATX_BASIC_STATS = 0x7ff;
    const STATX_BTIME = 0x800;
    out.mask = STATX_BASIC_STATS | STATX_BTIME;
    out.blksize = a.blksize;
    // STATX_ATTR_* mirror of inode flags (compressed 0x4, immutable 0x10, append 0x20, nodump 0x40).
    let attrs = 0;
    if (a.flags & InodeFlags.IMMUTABLE) attrs |= 0x10;
    if (a.flags & InodeFlags.APPEND) attrs |= 0x20;
    if (a.flags & InodeFlags.NODUMP) attrs |= 0x40;
    out.attributes = attrs;
    out.attributesMask = 0x10 | 0x20 | 0x40;
    out.nlink = a.nlink;
    out.uid = this.shownUid(a.uid);
    out.gid = this.shownGid(a.gid);
    out.mode = a.mode;
    out.ino = a.ino;
    out.size = a.size;
    out.blocks = a.blocks;
    out.atime = a.atime.sec; out.atimeNsec = a.atime.nsec;
    out.btime = a.crtime.sec; out.btimeNsec = a.crtime.nsec;
    out.ctime = a.ctime.sec; out.ctimeNsec = a.ctime.nsec;
    out.mtime = a.mtime.sec; out.mtimeNsec = a.mtime.nsec;
    out.rdevMajor = (a.rdev >>> 8) & 0xfff;
    out.rdevMinor = (a.rdev & 0xff) | ((a.rdev >>> 12) & 0xfff00);
    return 0;
  }

  ioctl(ctx: RequestContext, _fh: number, cmd: number, _arg: number, _flags: number, inData: Uint8Array, outSize: number,
    out: IoctlOut): number {
    const ino = nodeToIno(ctx.nodeid);
    return handleIoctl(this.fs, ino, cmd, inData, outSize, out);
  }

  bmap(ctx: RequestContext, block: number, blocksize: number, out: NumOut): number {
    const ino = nodeToIno(ctx.nodeid);
    const inode = this.fs.vol.inodes.get(ino);
    const bs = this.fs.vol.blockSize;
    if (blocksize !== bs) return Errno.EINVAL;
    let found = 0;
    walkRuns(this.fs.vol, inode, (r) => {
      if (block >= r.logical && block < r.logical + r.length && !r.unwritten) found = r.physical + (block - r.logical);
    });
    out.value = found;
    return 0;
  }

  syncfs(): number {
    this.commit();
    return 0;
  }

  /** Notifier, for the bridge's owner (e.g. changes made outside the kernel). */
  get notify(): Notifier | null {
    return this.notifier;
  }
}
