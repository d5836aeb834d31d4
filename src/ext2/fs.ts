// The filesystem API the FUSE bridge calls: inode numbers in and out, expected
// outcomes as negative errnos, every metadata change inside one transaction
// handle. POSIX semantics as the kernel's ext4 gives them (fs/ext4/namei.c,
// inode.c, ioctl.c), on top of the format modules of this directory.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { Volume, type OpenOptions } from './volume.js';
import type { Inode } from './inode.js';
import {
  InodeFlags, ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type Timestamp,
} from './layout/inode.js';
import { FT } from './layout/dirent.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from './layout/features.js';
import { lookup as dirLookup, readDir, type DirVisitor } from './dir.js';
import { readFileRange, readLink, isInline } from './file.js';
import { initBlockMap, unmapRange } from './bmap-write.js';
import { fallocateFile, seekFile, truncateFile, writeFile } from './file-write.js';
import { addEntry, initDirBlock, isEmptyDir, removeEntry, replaceEntry, setDotDot } from './dir-write.js';
import { getXattrValue, listXattrNames, releaseXattrs, removeXattr, setXattr } from './xattr-write.js';
import { xattrBlockChecksum } from './xattr-codec.js';
import { aclModeBits, encodeXattrAcl, parseXattrAcl } from './acl.js';
import { OrphanList } from './orphan.js';
import type { Handle } from './txn.js';
import { randomInt } from 'node:crypto';

export const LINK_MAX = 65000;
export const NAME_MAX = 255;
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

/** Flags a user may change with FS_IOC_SETFLAGS (the rest are the filesystem's). */
export const USER_MODIFIABLE_FLAGS =
  InodeFlags.SECRM | InodeFlags.UNRM | InodeFlags.SYNC | InodeFlags.IMMUTABLE | InodeFlags.APPEND | InodeFlags.NODUMP |
  InodeFlags.NOATIME | InodeFlags.JOURNAL_DATA | InodeFlags.NOTAIL | InodeFlags.DIRSYNC | InodeFlags.TOPDIR |
  InodeFlags.PROJINHERIT;
const INHERITED_FLAGS = InodeFlags.SYNC | InodeFlags.NODUMP | InodeFlags.NOATIME | InodeFlags.DIRSYNC | InodeFlags.PROJINHERIT;

export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blocks: number;
  blksize: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  crtime: Timestamp;
  generation: number;
  flags: number;
}

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: Timestamp | 'now';
  mtime?: Timestamp | 'now';
  ctime?: Timestamp;
}

export interface StatFs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

const baseNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
export function now(): Timestamp {
  const ns = process.hrtime.bigint() + baseNs;
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

function fileTypeOf(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return FT.REG_FILE;
    case S_IFDIR: return FT.DIR;
    case S_IFCHR: return FT.CHRDEV;
    case S_IFBLK: return FT.BLKDEV;
    case S_IFIFO: return FT.FIFO;
    case S_IFSOCK: return FT.SOCK;
    case S_IFLNK: return FT.SYMLINK;
    default: return FT.UNKNOWN;
  }
}

export class Filesystem {
  readonly orphans: OrphanList;
  private nextGeneration = randomInt(1, 0x7fffffff);
  private handles = new Map<number, { ino: number; flags: number }>();
  private nextFh = 1;
  private overhead: number;

  constructor(readonly vol: Volume) {
    this.orphans = new OrphanList(vol);
    this.overhead = this.computeOverhead();
    if (!vol.readOnly) this.recoverOrphans();
  }

  static open(path: string, opts: OpenOptions = {}): Filesystem {
    return new Filesystem(Volume.open(path, opts));
  }

  get readOnly(): boolean { return this.vol.readOnly; }

  // ---- helpers ---------------------------------------------------------------

  private begin(): Handle { return this.vol.txn.begin(); }
  private end(h: Handle): void { this.vol.txn.end(h); }
  inode(ino: number): Inode { return this.vol.inodes.get(ino); }
  private write(h: Handle, inode: Inode): void { this.vol.writeInode(h, inode); }

  private checkName(name: Uint8Array): number {
    if (name.length === 0) return -Errno.ENOENT;
    if (name.length > NAME_MAX) return -Errno.ENAMETOOLONG;
    for (const b of name) if (b === 0 || b === 0x2f) return -Errno.EINVAL;
    return 0;
  }
  private isDot(name: Uint8Array): boolean {
    return (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
  }
  private touch(inode: Inode, which: ('mtime' | 'ctime' | 'atime')[], t = now()): void {
    for (const w of which) inode.setTime(w, t);
  }
  private dirLinkMaxed(dir: Inode): boolean {
    return dir.linksCount >= LINK_MAX && !this.vol.has('roCompat', RO_COMPAT.dir_nlink);
  }
  private incDirLinks(dir: Inode): void {
    // ext4_inc_count: past the limit (65000 is still counted) a directory's count sticks at 1 (dir_nlink).
    const n = dir.linksCount + 1;
    dir.linksCount = n > LINK_MAX || dir.linksCount === 1 ? 1 : n;
  }
  private decDirLinks(dir: Inode): void {
    if (dir.linksCount > 2) dir.linksCount = dir.linksCount - 1;
  }

  private computeOverhead(): number {
    const geo = this.vol.geo;
    let o = geo.firstDataBlock;
    for (let g = 0; g < geo.groupCount; g++) {
      if (this.vol.groupHasSuperblock(g)) o += 1 + this.vol.gdtBlocksInGroup(g) + geo.reservedGdtBlocks;
      else if (this.vol.metaBgDescriptorIn(g) !== null) o += 1;
      o += 2 + geo.inodeTableBlocks;
    }
    // ext4_calculate_overhead: an internal journal counts too, loaded or not
    const jino = this.vol.sb.s_journal_inum;
    if (this.vol.has('compat', COMPAT.has_journal) && jino !== 0) o += Math.floor(this.inode(jino).size / this.vol.blockSize);
    return o;
  }

  // ---- reading -----------------------------------------------------------------

  getattr(ino: number): Attr {
    const i = this.inode(ino);
    const rd = i.rdev;
    return {
      ino, mode: i.mode, nlink: i.linksCount, uid: i.uid, gid: i.gid,
      rdev: (i.fileType === S_IFCHR || i.fileType === S_IFBLK) ? (rd.major << 8) | (rd.minor & 0xff) | ((rd.minor & ~0xff) << 12) : 0,
      size: i.size, blocks: i.blocks512, blksize: this.vol.blockSize,
      atime: i.getTime('atime'), mtime: i.getTime('mtime'), ctime: i.getTime('ctime'), crtime: i.getTime('crtime'),
      generation: i.generation, flags: i.flags,
    };
  }

  lookup(dirIno: number, name: Uint8Array): number {
    const dir = this.inode(dirIno);
    if (!dir.isDir) return -Errno.ENOTDIR;
    if (name.length > NAME_MAX) return -Errno.ENAMETOOLONG;
    return dirLookup(this.vol, dir, name);
  }

  readdir(dirIno: number, cookie: number, visit: DirVisitor): number {
    const dir = this.inode(dirIno);
    if (!dir.isDir) return -Errno.ENOTDIR;
    readDir(this.vol, dir, cookie, visit);
    return 0;
  }

  read(ino: number, pos: number, dst: Uint8Array): number {
    const i = this.inode(ino);
    if (i.isDir) return -Errno.EISDIR;
    return readFileRange(this.vol, i, pos, dst);
  }

  readlink(ino: number): Uint8Array | number {
    return readLink(this.vol, this.inode(ino));
  }

  statfs(): StatFs {
    const a = this.vol.alloc;
    const free = a.freeBlocksTotal;
    return {
      blocks: this.vol.geo.blocksCount - this.overhead, bfree: free, bavail: Math.max(0, free - this.vol.reservedBlocks),
      files: this.vol.geo.inodesCount, ffree: a.freeInodesTotal, bsize: this.vol.blockSize, namelen: NAME_MAX,
      frsize: this.vol.blockSize,
    };
  }

  // ---- creating ----------------------------------------------------------------

  /** A fresh on-disk inode (not yet linked anywhere). */
  private newInode(h: Handle, parent: Inode, mode: number, uid: number, gid: number): Inode | number {
    const isDir = (mode & S_IFMT) === S_IFDIR;
    const ino = this.vol.alloc.allocInode(h, parent.ino, isDir);
    if (ino < 0) return ino;
    const geo = this.vol.geo;
    const old = this.vol.inodes.peek(ino);
    if (old !== undefined) {
      if (this.vol.inodes.refs(ino) > 0) throw new Error(`allocated inode ${ino} is still referenced`);
      this.vol.inodes.forget(ino);
    }
    const inode = this.vol.inodes.get(ino);
    inode.bytes.fill(0);
    inode.mode = mode;
    inode.uid = uid;
    inode.gid = gid;
    if (geo.inodeSize > 128) {
      const want = this.vol.sb.s_want_extra_isize || 32;
      inode.raw.i_extra_isize = Math.min(want, geo.inodeSize - 128, 32);
    }
    const t = now();
    for (const w of ['atime', 'mtime', 'ctime', 'crtime'] as const) inode.setTime(w, t);
    inode.generation = this.nextGeneration++ >>> 0;
    inode.flags = (parent.flags & INHERITED_FLAGS & (isDir ? ~0 : ~InodeFlags.DIRSYNC)) >>> 0;
    const ft = mode & S_IFMT;
    if (ft === S_IFREG || ft === S_IFDIR || ft === S_IFLNK) initBlockMap(this.vol, inode);
    inode.orphan = false;
    inode.nlookup = 0;
    inode.openCount = 0;
    return inode;
  }

  private setRdev(inode: Inode, rdev: number): void {
    const major = (rdev >>> 8) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    const dv = viewOf(inode.bytes);
    if (major < 256 && minor < 256) {
      dv.setUint32(0x28, (major << 8) | minor, true);
      dv.setUint32(0x2c, 0, true);
    } else {
      dv.setUint32(0x28, 0, true);
      dv.setUint32(0x2c, ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0, true);
    }
  }

  private checkParent(dir: Inode): number {
    if (!dir.isDir) return -Errno.ENOTDIR;
    if (this.vol.readOnly) return -Errno.EROFS;
    if (dir.linksCount === 0) return -Errno.ENOENT;
    return 0;
  }

  // The VFS's order of checks (fs/namei.c): a name that exists is EEXIST before
  // anything about permissions; then may_create / may_delete.
  private mayCreate(dir: Inode): number {
    return dir.hasFlag(InodeFlags.IMMUTABLE) ? -Errno.EPERM : 0;
  }
  private mayDelete(dir: Inode, victim: Inode, isDir: boolean): number {
    if (dir.hasFlag(InodeFlags.IMMUTABLE) || dir.hasFlag(InodeFlags.APPEND)) return -Errno.EPERM;
    if (victim.hasFlag(InodeFlags.IMMUTABLE) || victim.hasFlag(InodeFlags.APPEND)) return -Errno.EPERM;
    if (isDir && !victim.isDir) return -Errno.ENOTDIR;
    if (!isDir && victim.isDir) return -Errno.EISDIR;
    return 0;
  }

  /** mknod/create: regular files, fifos, sockets, device nodes. Returns the new inode number. */
  mknod(dirIno: number, name: Uint8Array, mode: number, uid: number, gid: number, rdev = 0): number {
    const ft = mode & S_IFMT;
    if (![S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK].includes(ft)) return -Errno.EINVAL;
    return this.createNode(dirIno, name, mode, uid, gid, null, (inode) => {
      inode.linksCount = 1;
      if (ft === S_IFCHR || ft === S_IFBLK) this.setRdev(inode, rdev);
      return 0;
    });
  }

  create(dirIno: number, name: Uint8Array, mode: number, uid: number, gid: number): number {
    return this.mknod(dirIno, name, (mode & ~S_IFMT) | S_IFREG, uid, gid);
  }

  mkdir(dirIno: number, name: Uint8Array, mode: number, uid: number, gid: number): number {
    const dir = this.inode(dirIno);
    const maxed = () => (this.dirLinkMaxed(dir) ? -Errno.EMLINK : 0);
    return this.createNode(dirIno, name, (mode & ~S_IFMT) | S_IFDIR, uid, gid, maxed, (inode, h) => {
      inode.linksCount = 2;
      const r = initDirBlock(this.vol, h, inode, dirIno);
      if (r < 0) return r;
      this.incDirLinks(dir);
      return 0;
    });
  }

  symlink(dirIno: number, name: Uint8Array, target: Uint8Array, uid: number, gid: number): number {
    if (target.length === 0) return -Errno.ENOENT;
    if (target.length >= this.vol.blockSize) return -Errno.ENAMETOOLONG;
    return this.createNode(dirIno, name, S_IFLNK | 0o777, uid, gid, null, (inode, h) => {
      inode.linksCount = 1;
      if (target.length < 60) {
        inode.flags = (inode.flags & ~InodeFlags.EXTENTS) >>> 0;
        inode.bytes.fill(0, 0x28, 0x28 + 60);
        inode.bytes.set(target, 0x28);
        inode.size = target.length;
        return 0;
      }
      const data = new Uint8Array(target.length + 1);
      data.set(target);
      const w = writeFile(this.vol, h, inode, 0, data);
      if (w < 0) return w;
      inode.size = target.length;
      return 0;
    });
  }

  private createNode(dirIno: number, name: Uint8Array, mode: number, uid: number, gid: number,
    check: (() => number) | null, init: (inode: Inode, h: Handle) => number): number {
    const dir = this.inode(dirIno);
    let e = this.checkParent(dir);
    if (e) return e;
    e = this.checkName(name);
    if (e) return e;
    if (this.isDot(name) || dirLookup(this.vol, dir, name) > 0) return -Errno.EEXIST;
    e = this.mayCreate(dir) || (check ? check() : 0);
    if (e) return e;
    const h = this.begin();
    try {
      const inode = this.newInode(h, dir, mode, uid, gid);
      if (typeof inode === 'number') return inode;
      let r = init(inode, h);
      if (r === 0) r = addEntry(this.vol, h, dir, name, inode.ino, fileTypeOf(mode));
      if (r < 0) {
        // Undo: give back what init allocated and the inode itself.
        this.freeInode(h, inode);
        return r;
      }
      this.write(h, inode);
      this.touch(dir, ['mtime', 'ctime']);
      this.write(h, dir);
      return inode.ino;
    } finally {
      this.end(h);
    }
  }

  /** O_TMPFILE: an inode with no name, on the orphan list, opened. Returns [ino, fh]. */
  tmpfile(dirIno: number, mode: number, uid: number, gid: number, flags = 2): [number, number] | number {
    const dir = this.inode(dirIno);
    const e = this.checkParent(dir) || this.mayCreate(dir);
    if (e) return e;
    const h = this.begin();
    try {
      const inode = this.newInode(h, dir, (mode & ~S_IFMT) | S_IFREG, uid, gid);
      if (typeof inode === 'number') return inode;
      inode.linksCount = 0;
      this.write(h, inode);
      this.orphans.add(h, inode);
      return [inode.ino, this.openInode(inode, flags)];
    } finally {
      this.end(h);
    }
  }

  link(ino: number, newDirIno: number, newName: Uint8Array): number {
    const inode = this.inode(ino);
    const dir = this.inode(newDirIno);
    let e = this.checkParent(dir);
    if (e) return e;
    e = this.checkName(newName);
    if (e) return e;
    if (this.isDot(newName) || dirLookup(this.vol, dir, newName) > 0) return -Errno.EEXIST;
    e = this.mayCreate(dir);
    if (e) return e;
    if (inode.hasFlag(InodeFlags.IMMUTABLE) || inode.hasFlag(InodeFlags.APPEND)) return -Errno.EPERM;
    if (inode.isDir) return -Errno.EPERM;
    if (inode.linksCount >= LINK_MAX) return -Errno.EMLINK;
    if (inode.linksCount === 0 && !inode.orphan) return -Errno.ENOENT;
    const h = this.begin();
    try {
      const r = addEntry(this.vol, h, dir, newName, ino, fileTypeOf(inode.mode));
      if (r < 0) return r;
      if (inode.linksCount === 0) this.orphans.remove(h, inode);
      inode.linksCount = inode.linksCount + 1;
      this.touch(inode, ['ctime']);
      this.write(h, inode);
      this.touch(dir, ['mtime', 'ctime']);
      this.write(h, dir);
      return 0;
    } finally {
      this.end(h);
    }
  }

  // ---- removing ----------------------------------------------------------------

  unlink(dirIno: number, name: Uint8Array): number {
    return this.removeName(dirIno, name, false);
  }

  rmdir(dirIno: number, name: Uint8Array): number {
    return this.removeName(dirIno, name, true);
  }

  private removeName(dirIno: number, name: Uint8Array, isRmdir: boolean): number {
    const dir = this.inode(dirIno);
    const e = this.checkParent(dir);
    if (e) return e;
    if (name.length > NAME_MAX) return -Errno.ENAMETOOLONG;
    if (isRmdir && name.length === 1 && name[0] === 0x2e) return -Errno.EINVAL;
    if (isRmdir && name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return -Errno.ENOTEMPTY;
    const ino = dirLookup(this.vol, dir, name);
    if (ino < 0) return ino;
    const target = this.inode(ino);
    const e2 = this.mayDelete(dir, target, isRmdir);
    if (e2) return e2;
    if (isRmdir && !isEmptyDir(this.vol, target)) return -Errno.ENOTEMPTY;
    const h = this.begin();
    try {
      const r = removeEntry(this.vol, h, dir, name);
      if (r < 0) return r;
      const t = now();
      if (isRmdir) {
        target.linksCount = 0;
        this.decDirLinks(dir);
      } else {
        target.linksCount = Math.max(0, target.linksCount - 1);
      }
      target.setTime('ctime', t);
      this.write(h, target);
      dir.setTime('mtime', t);
      dir.setTime('ctime', t);
      this.write(h, dir);
      this.dropIfUnlinked(h, target);
      return 0;
    } finally {
      this.end(h);
    }
  }

  /** After the last name went: free now, or orphan it while it is still referenced. */
  private dropIfUnlinked(h: Handle, inode: Inode): void {
    if (inode.linksCount > 0) return;
    if (inode.openCount > 0 || inode.nlookup > 0) this.orphans.add(h, inode);
    else this.freeInode(h, inode);
  }

  /** Release everything an inode holds and mark it free (ext4_evict_inode / ext4_free_inode). */
  private freeInode(h: Handle, inode: Inode): void {
    const wasDir = inode.isDir;
    if (this.orphans.has(inode.ino)) this.orphans.remove(h, inode);
    const ft = inode.fileType;
    if (!isInline(inode) && (ft === S_IFREG || ft === S_IFDIR || (ft === S_IFLNK && inode.blocks512 > (inode.fileAcl ? this.vol.blockSize / 512 : 0)))) {
      unmapRange(this.vol, h, inode, 0, Infinity);
    }
    this.releaseXattrBlock(h, inode);
    inode.linksCount = 0;
    inode.size = 0;
    inode.dtime = Math.floor(Date.now() / 1000) >>> 0;
    inode.blocks512 = 0;
    this.write(h, inode);
    this.vol.alloc.freeInode(h, inode.ino, wasDir);
    if (this.vol.inodes.refs(inode.ino) === 0) this.vol.inodes.forget(inode.ino);
  }

  private releaseXattrBlock(h: Handle, inode: Inode): void {
    // EA-inode values are referenced from the inode body and the block: xattr-write drops those references
    if (this.vol.has('incompat', INCOMPAT.ea_inode)) { releaseXattrs(this.vol, h, inode); return; }
    const blk = inode.fileAcl;
    if (blk === 0) return;
    if (!this.vol.validBlock(blk)) { inode.fileAcl = 0; return; }
    const b = h.getWrite(blk);
    const dv = viewOf(b);
    const refs = dv.getUint32(4, true);
    if (refs > 1) {
      dv.setUint32(4, refs - 1, true);
      if (this.vol.hasMetadataCsum) dv.setUint32(0x10, xattrBlockChecksum(this.vol.csumSeed, blk, b), true);
      h.dirty(blk, b);
    } else {
      h.forget(blk);
      this.vol.alloc.freeBlocks(h, blk, 1);
    }
    inode.fileAcl = 0;
    inode.blocks512 = Math.max(0, inode.blocks512 - this.vol.blockSize / 512);
  }

  // ---- rename ------------------------------------------------------------------

  /** Is `ancestor` on the path from `dir` up to the root? */
  private isAncestor(ancestor: number, dir: number): boolean {
    let cur = dir;
    for (let guard = 0; guard < 4096 && cur !== ROOT_INO; guard++) {
      if (cur === ancestor) return true;
      const up = dirLookup(this.vol, this.inode(cur), new Uint8Array([0x2e, 0x2e]));
      if (up <= 0 || up === cur) return false;
      cur = up;
    }
    return cur === ancestor;
  }

  rename(oldDirIno: number, oldName: Uint8Array, newDirIno: number, newName: Uint8Array, flags = 0): number {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -Errno.EINVAL;
    if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) return -Errno.EINVAL;
    const oldDir = this.inode(oldDirIno);
    const newDir = this.inode(newDirIno);
    let e = this.checkParent(oldDir) || this.checkParent(newDir);
    if (e) return e;
    e = this.checkName(newName);
    if (e) return e;
    if (this.isDot(oldName) || this.isDot(newName)) return -Errno.EBUSY;
    const srcIno = dirLookup(this.vol, oldDir, oldName);
    if (srcIno < 0) return srcIno;
    const dstIno = dirLookup(this.vol, newDir, newName);
    if (dstIno < 0 && dstIno !== -Errno.ENOENT) return dstIno;
    const src = this.inode(srcIno);
    const dst = dstIno > 0 ? this.inode(dstIno) : null;
    if ((flags & RENAME_NOREPLACE) && dst) return -Errno.EEXIST;
    if ((flags & RENAME_EXCHANGE) && !dst) return -Errno.ENOENT;
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    if (oldDirIno !== newDirIno) {
      // lock_rename's trap: the source may not be above the target, nor the target above the source
      if (src.isDir && this.isAncestor(src.ino, newDirIno)) return -Errno.EINVAL;
      if (dst && dst.isDir && this.isAncestor(dst.ino, oldDirIno)) return exchange ? -Errno.EINVAL : -Errno.ENOTEMPTY;
    }
    if (dst && dst.ino === src.ino) return 0;
    e = this.mayDelete(oldDir, src, src.isDir) ||
      (dst ? this.mayDelete(newDir, dst, exchange ? dst.isDir : src.isDir) : this.mayCreate(newDir));
    if (e) return e;
    if (exchange) return this.exchange(oldDir, oldName, src, newDir, newName, dst!);
    if (dst) {
      if (dst.isDir && !isEmptyDir(this.vol, dst)) return -Errno.ENOTEMPTY;
    } else if (src.isDir && oldDirIno !== newDirIno && this.dirLinkMaxed(newDir)) {
      return -Errno.EMLINK;
    }
    const h = this.begin();
    try {
      const t = now();
      if (dst) {
        const r = replaceEntry(this.vol, h, newDir, newName, src.ino, fileTypeOf(src.mode));
        if (r < 0) return r;
      } else {
        const r = addEntry(this.vol, h, newDir, newName, src.ino, fileTypeOf(src.mode));
        if (r < 0) return r;
      }
      if (flags & RENAME_WHITEOUT) {
        const wo = this.newInode(h, oldDir, S_IFCHR, 0, 0);
        if (typeof wo === 'number') return wo;
        wo.linksCount = 1;
        this.setRdev(wo, 0);
        this.write(h, wo);
        replaceEntry(this.vol, h, oldDir, oldName, wo.ino, FT.CHRDEV);
      } else {
        const r = removeEntry(this.vol, h, oldDir, oldName);
        if (r < 0) return r;
      }
      if (src.isDir && oldDirIno !== newDirIno) {
        setDotDot(this.vol, h, src, newDirIno);
        this.decDirLinks(oldDir);
        if (!dst) this.incDirLinks(newDir);
      }
      if (dst) {
        if (dst.isDir) { dst.linksCount = 0; if (!(src.isDir && oldDirIno !== newDirIno)) this.decDirLinks(newDir); }
        else dst.linksCount = Math.max(0, dst.linksCount - 1);
        dst.setTime('ctime', t);
        this.write(h, dst);
      }
      src.setTime('ctime', t);
      this.write(h, src);
      for (const d of oldDirIno === newDirIno ? [oldDir] : [oldDir, newDir]) {
        d.setTime('mtime', t);
        d.setTime('ctime', t);
        this.write(h, d);
      }
      if (dst) this.dropIfUnlinked(h, dst);
      return 0;
    } finally {
      this.end(h);
    }
  }

  private exchange(oldDir: Inode, oldName: Uint8Array, src: Inode, newDir: Inode, newName: Uint8Array, dst: Inode): number {
    const h = this.begin();
    try {
      const t = now();
      replaceEntry(this.vol, h, oldDir, oldName, dst.ino, fileTypeOf(dst.mode));
      replaceEntry(this.vol, h, newDir, newName, src.ino, fileTypeOf(src.mode));
      if (oldDir.ino !== newDir.ino) {
        if (src.isDir) setDotDot(this.vol, h, src, newDir.ino);
        if (dst.isDir) setDotDot(this.vol, h, dst, oldDir.ino);
        if (src.isDir && !dst.isDir) { this.decDirLinks(oldDir); this.incDirLinks(newDir); }
        if (!src.isDir && dst.isDir) { this.incDirLinks(oldDir); this.decDirLinks(newDir); }
      }
      for (const i of [src, dst]) { i.setTime('ctime', t); this.write(h, i); }
      for (const d of oldDir.ino === newDir.ino ? [oldDir] : [oldDir, newDir]) {
        d.setTime('mtime', t);
        d.setTime('ctime', t);
        this.write(h, d);
      }
      return 0;
    } finally {
      this.end(h);
    }
  }

  // ---- open files --------------------------------------------------------------

  private openInode(inode: Inode, flags: number): number {
    this.vol.inodes.pin(inode.ino);
    inode.openCount++;
    const fh = this.nextFh++;
    this.handles.set(fh, { ino: inode.ino, flags });
    return fh;
  }

  open(ino: number, flags = 0): number {
    const inode = this.inode(ino);
    if (inode.linksCount === 0 && !inode.orphan) return -Errno.ENOENT;
    return this.openInode(inode, flags);
  }

  handleIno(fh: number): number | undefined {
    return this.handles.get(fh)?.ino;
  }

  release(fh: number): number {
    const hd = this.handles.get(fh);
    if (!hd) return -Errno.EBADF;
    this.handles.delete(fh);
    const inode = this.inode(hd.ino);
    inode.openCount--;
    this.vol.inodes.unpin(hd.ino);
    this.maybeEvict(inode);
    return 0;
  }

  /** The kernel forgot `n` lookups of an inode (FORGET). */
  forget(ino: number, n: number): void {
    const inode = this.vol.inodes.peek(ino);
    if (!inode) return;
    inode.nlookup = Math.max(0, inode.nlookup - n);
    this.maybeEvict(inode);
  }

  /** Free an unlinked inode once nothing refers to it any more. */
  maybeEvict(inode: Inode): void {
    if (inode.linksCount > 0 || inode.openCount > 0 || inode.nlookup > 0 || this.vol.readOnly) return;
    if (!this.orphans.has(inode.ino)) return;
    const h = this.begin();
    try { this.freeInode(h, inode); } finally { this.end(h); }
  }

  /** At open: free or truncate what a crash left on the orphan chain (ext4_orphan_cleanup). */
  private recoverOrphans(): void {
    const chain = this.orphans.readChain();
    if (chain.length === 0) return;
    const h = this.begin();
    try {
      for (const ino of chain) {
        const inode = this.inode(ino);
        if (inode.linksCount === 0) {
          this.vol.log.info(`orphan inode ${ino}: freeing`);
          this.freeInodeAtRecovery(h, inode);
        } else {
          this.vol.log.info(`orphan inode ${ino}: truncating to ${inode.size}`);
          truncateFile(this.vol, h, inode, inode.size);
          inode.dtime = 0;
          this.write(h, inode);
        }
      }
      this.vol.sb.s_last_orphan = 0;
      h.dirtyFixed();
    } finally {
      this.end(h);
    }
    this.vol.sync();
  }

  private freeInodeAtRecovery(h: Handle, inode: Inode): void {
    inode.orphan = false;
    const wasDir = inode.isDir;
    if (!isInline(inode) && (inode.isReg || inode.isDir || inode.isSymlink)) unmapRange(this.vol, h, inode, 0, Infinity);
    this.releaseXattrBlock(h, inode);
    inode.size = 0;
    inode.blocks512 = 0;
    inode.dtime = Math.floor(Date.now() / 1000) >>> 0;
    this.write(h, inode);
    this.vol.alloc.freeInode(h, inode.ino, wasDir);
  }

  // ---- data --------------------------------------------------------------------

  writeData(ino: number, pos: number, data: Uint8Array): number {
    if (this.vol.readOnly) return -Errno.EROFS;
    const inode = this.inode(ino);
    if (inode.isDir) return -Errno.EISDIR;
    if (inode.hasFlag(InodeFlags.IMMUTABLE)) return -Errno.EPERM;
    if (inode.hasFlag(InodeFlags.APPEND) && pos !== inode.size) return -Errno.EPERM;
    const h = this.begin();
    try {
      const n = writeFile(this.vol, h, inode, pos, data);
      if (n < 0) return n;
      const t = now();
      inode.setTime('mtime', t);
      inode.setTime('ctime', t);
      this.write(h, inode);
      return n;
    } finally {
      this.end(h);
    }
  }

  fallocate(ino: number, mode: number, offset: number, length: number): number {
    if (this.vol.readOnly) return -Errno.EROFS;
    const inode = this.inode(ino);
    if (!inode.isReg) return -Errno.ENODEV;
    if (inode.hasFlag(InodeFlags.IMMUTABLE)) return -Errno.EPERM;
    if (inode.hasFlag(InodeFlags.APPEND) && (mode & ~1)) return -Errno.EPERM;
    const h = this.begin();
    try {
      const r = fallocateFile(this.vol, h, inode, mode, offset, length);
      if (r < 0) return r;
      const t = now();
      if (mode & ~1) inode.setTime('mtime', t);
      inode.setTime('ctime', t);
      this.write(h, inode);
      return 0;
    } finally {
      this.end(h);
    }
  }

  seek(ino: number, offset: number, whence: number): number {
    return seekFile(this.vol, this.inode(ino), offset, whence);
  }

  setattr(ino: number, a: SetAttr): number {
    if (this.vol.readOnly) return -Errno.EROFS;
    const inode = this.inode(ino);
    const immutable = inode.hasFlag(InodeFlags.IMMUTABLE);
    const append = inode.hasFlag(InodeFlags.APPEND);
    // notify_change (fs/attr.c): mode, owner and explicit times need neither flag; "now" times only not immutable
    const explicitTimes = (a.atime !== undefined && a.atime !== 'now') || (a.mtime !== undefined && a.mtime !== 'now');
    if ((immutable || append) && (a.mode !== undefined || a.uid !== undefined || a.gid !== undefined || explicitTimes)) return -Errno.EPERM;
    if (immutable && (a.size !== undefined || a.atime || a.mtime)) return -Errno.EPERM;
    if (append && a.size !== undefined) return -Errno.EPERM;
    const h = this.begin();
    try {
      const t = now();
      if (a.size !== undefined) {
        if (inode.isDir) return -Errno.EISDIR;
        if (!inode.isReg) return -Errno.EINVAL;
        if (a.size !== inode.size) {
          const r = truncateFile(this.vol, h, inode, a.size);
          if (r < 0) return r;
          inode.setTime('mtime', t);
        }
      }
      if (a.mode !== undefined) inode.mode = (inode.mode & S_IFMT) | (a.mode & 0o7777);
      if (a.uid !== undefined) inode.uid = a.uid;
      if (a.gid !== undefined) inode.gid = a.gid;
      if (a.atime !== undefined) inode.setTime('atime', a.atime === 'now' ? t : a.atime);
      if (a.mtime !== undefined) inode.setTime('mtime', a.mtime === 'now' ? t : a.mtime);
      inode.setTime('ctime', a.ctime ?? t);
      this.write(h, inode);
      return 0;
    } finally {
      this.end(h);
    }
  }

  // ---- flags and xattrs ----------------------------------------------------------

  getFlags(ino: number): number {
    return this.inode(ino).flags;
  }

  setFlags(ino: number, flags: number): number {
    if (this.vol.readOnly) return -Errno.EROFS;
    const inode = this.inode(ino);
    const old = inode.flags;
    if ((flags ^ old) & InodeFlags.EXTENTS) return -Errno.EOPNOTSUPP;
    const next = ((old & ~USER_MODIFIABLE_FLAGS) | (flags & USER_MODIFIABLE_FLAGS)) >>> 0;
    if (next === old) return 0;
    const h = this.begin();
    try {
      inode.flags = next;
      inode.setTime('ctime', now());
      this.write(h, inode);
      return 0;
    } finally {
      this.end(h);
    }
  }

  listxattr(ino: number): string[] {
    return listXattrNames(this.vol, this.inode(ino));
  }

  getxattr(ino: number, name: string | Uint8Array): Uint8Array | number {
    return getXattrValue(this.vol, this.inode(ino), name);
  }

  setxattr(ino: number, name: string | Uint8Array, value: Uint8Array, flags: number): number {
    if (this.vol.readOnly) return -Errno.EROFS;
    const inode = this.inode(ino);
    if (inode.hasFlag(InodeFlags.IMMUTABLE) || inode.hasFlag(InodeFlags.APPEND)) return -Errno.EPERM; // xattr_permission
    // ext4_set_acl: an access ACL sets the permission bits (posix_acl_update_mode)
    // and is not stored when the bits say it all; a default ACL is for directories.
    const full = typeof name === 'string' ? name : Buffer.from(name).toString('latin1');
    let aclMode = -1;
    if (full === 'system.posix_acl_access' || full === 'system.posix_acl_default') {
      const entries = parseXattrAcl(value);
      if (entries === null) return -Errno.EINVAL;
      if (full === 'system.posix_acl_default') {
        if (!inode.isDir) return entries.length ? -Errno.EACCES : 0;
      } else if (entries.length) {
        const bits = aclModeBits(entries);
        aclMode = bits.mode;
        if (bits.equivalent) value = encodeXattrAcl([]);
      }
      flags = 0; // set_posix_acl ignores XATTR_CREATE/XATTR_REPLACE
    }
    const h = this.begin();
    try {
      const r = setXattr(this.vol, h, inode, name, value, flags);
      if (r < 0) return r;
      if (aclMode >= 0) inode.mode = (inode.mode & ~0o777) | aclMode;
      inode.setTime('ctime', now());
      this.write(h, inode);
      return 0;
    } finally {
      this.end(h);
    }
  }

  removexattr(ino: number, name: string | Uint8Array): number {
    if (this.vol.readOnly) return -Errno.EROFS;
    const inode = this.inode(ino);
    if (inode.hasFlag(InodeFlags.IMMUTABLE) || inode.hasFlag(InodeFlags.APPEND)) return -Errno.EPERM; // xattr_permission
    const h = this.begin();
    try {
      const r = removeXattr(this.vol, h, inode, name);
      if (r < 0) return r;
      inode.setTime('ctime', now());
      this.write(h, inode);
      return 0;
    } finally {
      this.end(h);
    }
  }

  // ---- sync --------------------------------------------------------------------

  sync(): void {
    this.vol.sync();
  }

  /**
   * The kernel let go of everything (unmount: no FORGETs come): drop all lookup
   * counts and free the unlinked inodes nobody has open any more.
   */
  dropAllLookups(): void {
    for (const [, inode] of [...this.vol.inodes.pinned()]) {
      if (inode.nlookup > 0) {
        inode.nlookup = 0;
        this.maybeEvict(inode);
      }
    }
  }

  /** Commit and close. Inodes still open stay on the orphan list (reclaimed at the next open). */
  close(): void {
    this.vol.close();
  }
}

export { INCOMPAT };
