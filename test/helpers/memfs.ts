// A small in-memory filesystem implementing src/fuse/ops.ts: a test fixture.
// Nodeids are inode numbers (root = 1); lookup counts are kept per node and a
// node is freed when it has no names, no lookups and no open handles.
// Run directly to serve it: node --import tsx test/helpers/memfs.ts MOUNTPOINT
// (FUSE_MOUNT_METHOD=fusermount mounts through fusermount3; FUSE_DEBUG=1 logs requests).
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Errno } from '../../src/util/errno.js';
import { FATTR, FUSE_OPEN_KILL_SUIDGID, FUSE_WRITE_KILL_SUIDGID, RENAME, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, XATTR_CREATE, XATTR_REPLACE, dtypeOfMode } from '../../src/fuse/abi-consts.js';
import type { Attr, DataOut, DirentPlusSink, DirentSink, EntryOut, FuseOps, NumOut, OpenOut, RequestContext, SetattrIn, StatfsOut, StatxOut } from '../../src/fuse/ops.js';

const O_TRUNC = 0o1000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

interface Time { sec: number; nsec: number }
function now(): Time {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

export interface Node {
  ino: number;
  generation: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  data: Buffer; // regular: contents (capacity >= size); symlink: target
  size: number;
  children: Map<string, number> | null;
  parent: number;
  xattrs: Map<string, Buffer>;
  atime: Time; mtime: Time; ctime: Time; btime: Time;
  nlookup: number;
  opens: number;
}

const key = (name: Uint8Array): string => Buffer.from(name.buffer, name.byteOffset, name.length).toString('latin1');
const isDir = (n: Node) => (n.mode & S_IFMT) === S_IFDIR;

export class MemFs implements FuseOps {
  readonly nodes = new Map<number, Node>();
  private nextIno = 2;
  private nextFh = 1;
  private readonly handles = new Map<number, { ino: number; entries?: [string, number][] }>();
  /** Problems a test can assert on (e.g. lookup-count underflow). */
  readonly problems: string[] = [];

  constructor() {
    const root = this.newNode(S_IFDIR | 0o755, 0, 0, 1);
    root.nlink = 2;
    root.parent = 1;
  }

  private newNode(mode: number, uid: number, gid: number, ino = this.nextIno++): Node {
    const t = now();
    const n: Node = {
      ino, generation: 1, mode, nlink: 1, uid, gid, rdev: 0, data: Buffer.alloc(0), size: 0,
      children: (mode & S_IFMT) === S_IFDIR ? new Map() : null, parent: 0, xattrs: new Map(),
      atime: t, mtime: t, ctime: t, btime: t, nlookup: 0, opens: 0,
    };
    this.nodes.set(ino, n);
    return n;
  }

  private maybeFree(n: Node): void {
    if (n.nlink === 0 && n.nlookup === 0 && n.opens === 0 && n.ino !== 1) this.nodes.delete(n.ino);
  }

  fillAttr(n: Node, a: Attr): void {
    a.ino = n.ino; a.size = n.size; a.blocks = Math.ceil(n.size / 512); a.mode = n.mode; a.nlink = n.nlink;
    a.uid = n.uid; a.gid = n.gid; a.rdev = n.rdev; a.blksize = 4096;
    a.atime = n.atime.sec; a.atimeNsec = n.atime.nsec; a.mtime = n.mtime.sec; a.mtimeNsec = n.mtime.nsec;
    a.ctime = n.ctime.sec; a.ctimeNsec = n.ctime.nsec;
  }

  private fillEntry(n: Node, out: EntryOut): void {
    out.nodeid = n.ino;
    out.generation = n.generation;
    this.fillAttr(n, out.attr);
    n.nlookup++;
  }

  private dir(ctx: RequestContext): Node | number {
    const d = this.nodes.get(ctx.nodeid);
    if (!d) return Errno.ENOENT;
    if (!isDir(d)) return Errno.ENOTDIR;
    return d;
  }

  private addChild(ctx: RequestContext, name: Uint8Array, mode: number, out: EntryOut): Node | number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    if (name.length > 255) return Errno.ENAMETOOLONG;
    if (d.children!.has(key(name))) return Errno.EEXIST;
    const n = this.newNode(mode, ctx.uid, ctx.gid);
    n.parent = d.ino;
    d.children!.set(key(name), n.ino);
    d.mtime = d.ctime = now();
    this.fillEntry(n, out);
    return n;
  }

  /** At session end: report lookup-count problems on stderr (the e2e test looks for them). */
  destroy(): void {
    if (this.problems.length > 0) writeSync(2, `memfs problems: ${this.problems.join('; ')}\n`);
  }

  lookup(ctx: RequestContext, name: Uint8Array, out: EntryOut): number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    const k = key(name);
    const ino = k === '.' ? d.ino : k === '..' ? d.parent : d.children!.get(k);
    const n = ino === undefined ? undefined : this.nodes.get(ino);
    if (!n) return Errno.ENOENT;
    this.fillEntry(n, out);
    return 0;
  }

  forget(nodeid: number, nlookup: number): void {
    const n = this.nodes.get(nodeid);
    if (!n) return void this.problems.push(`forget of unknown node ${nodeid}`);
    n.nlookup -= nlookup;
    if (n.nlookup < 0) {
      this.problems.push(`nlookup underflow on ${nodeid}`);
      n.nlookup = 0;
    }
    this.maybeFree(n);
  }

  getattr(ctx: RequestContext, _fh: number | null, out: { attr: Attr }): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    this.fillAttr(n, out.attr);
    return 0;
  }

  setattr(ctx: RequestContext, s: SetattrIn, out: { attr: Attr }): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    const t = now();
    if (s.valid & FATTR.MODE) n.mode = (n.mode & S_IFMT) | (s.mode & 0o7777);
    if (s.valid & FATTR.UID) n.uid = s.uid;
    if (s.valid & FATTR.GID) n.gid = s.gid;
    if (s.valid & FATTR.KILL_SUIDGID) this.killSuid(n);
    if (s.valid & FATTR.SIZE) {
      if (isDir(n)) return Errno.EISDIR;
      this.resize(n, s.size);
      n.mtime = t;
    }
    if (s.valid & FATTR.ATIME_NOW) n.atime = t;
    else if (s.valid & FATTR.ATIME) n.atime = { sec: s.atime, nsec: s.atimeNsec };
    if (s.valid & FATTR.MTIME_NOW) n.mtime = t;
    else if (s.valid & FATTR.MTIME) n.mtime = { sec: s.mtime, nsec: s.mtimeNsec };
    n.ctime = s.valid & FATTR.CTIME ? { sec: s.ctime, nsec: s.ctimeNsec } : t;
    this.fillAttr(n, out.attr);
    return 0;
  }

  private killSuid(n: Node): void {
    n.mode &= ~S_ISUID;
    if (n.mode & 0o010) n.mode &= ~S_ISGID;
  }

  private resize(n: Node, size: number): void {
    if (size > n.data.length) {
      const b = Buffer.alloc(Math.max(size, n.data.length * 2));
      n.data.copy(b, 0, 0, n.size);
      n.data = b;
    } else if (size < n.size) {
      n.data.fill(0, size, n.size);
    }
    n.size = size;
  }

  readlink(ctx: RequestContext, out: DataOut): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    if ((n.mode & S_IFMT) !== S_IFLNK) return Errno.EINVAL;
    out.data = n.data;
    return 0;
  }

  symlink(ctx: RequestContext, name: Uint8Array, target: Uint8Array, out: EntryOut): number {
    const n = this.addChild(ctx, name, S_IFLNK | 0o777, out);
    if (typeof n === 'number') return n;
    n.data = Buffer.from(target);
    n.size = target.length;
    out.attr.size = n.size;
    return 0;
  }

  mknod(ctx: RequestContext, name: Uint8Array, mode: number, rdev: number, _umask: number, out: EntryOut): number {
    const n = this.addChild(ctx, name, mode, out);
    if (typeof n === 'number') return n;
    n.rdev = rdev;
    out.attr.rdev = rdev;
    return 0;
  }

  mkdir(ctx: RequestContext, name: Uint8Array, mode: number, _umask: number, out: EntryOut): number {
    const n = this.addChild(ctx, name, S_IFDIR | (mode & 0o7777), out);
    if (typeof n === 'number') return n;
    n.nlink = 2;
    out.attr.nlink = 2;
    this.nodes.get(ctx.nodeid)!.nlink++;
    return 0;
  }

  private removeName(d: Node, k: string, n: Node): void {
    d.children!.delete(k);
    d.mtime = d.ctime = n.ctime = now();
    if (isDir(n)) {
      n.nlink = 0;
      d.nlink--;
    } else {
      n.nlink--;
    }
    this.maybeFree(n);
  }

  unlink(ctx: RequestContext, name: Uint8Array): number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    const k = key(name);
    const n = this.nodes.get(d.children!.get(k) ?? 0);
    if (!n) return Errno.ENOENT;
    if (isDir(n)) return Errno.EISDIR;
    this.removeName(d, k, n);
    return 0;
  }

  rmdir(ctx: RequestContext, name: Uint8Array): number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    const k = key(name);
    const n = this.nodes.get(d.children!.get(k) ?? 0);
    if (!n) return Errno.ENOENT;
    if (!isDir(n)) return Errno.ENOTDIR;
    if (n.children!.size > 0) return Errno.ENOTEMPTY;
    this.removeName(d, k, n);
    return 0;
  }

  rename(ctx: RequestContext, name: Uint8Array, newParent: number, newName: Uint8Array, flags: number): number {
    if (flags & ~(RENAME.NOREPLACE | RENAME.EXCHANGE)) return Errno.EINVAL;
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    const nd = this.nodes.get(newParent);
    if (!nd) return Errno.ENOENT;
    if (!isDir(nd)) return Errno.ENOTDIR;
    const k = key(name);
    const nk = key(newName);
    const n = this.nodes.get(d.children!.get(k) ?? 0);
    if (!n) return Errno.ENOENT;
    if (isDir(n)) {
      // Not into its own subtree.
      for (let p = nd; ; p = this.nodes.get(p.parent)!) {
        if (p.ino === n.ino) return Errno.EINVAL;
        if (p.ino === 1) break;
      }
    }
    const old = this.nodes.get(nd.children!.get(nk) ?? 0);
    if (old === n) return 0;
    if (flags & RENAME.NOREPLACE && old) return Errno.EEXIST;
    if (flags & RENAME.EXCHANGE) {
      if (!old) return Errno.ENOENT;
      d.children!.set(k, old.ino);
      nd.children!.set(nk, n.ino);
      if (isDir(n)) n.parent = nd.ino;
      if (isDir(old)) old.parent = d.ino;
      return 0;
    }
    if (old) {
      if (isDir(n) && !isDir(old)) return Errno.ENOTDIR;
      if (!isDir(n) && isDir(old)) return Errno.EISDIR;
      if (isDir(old) && old.children!.size > 0) return Errno.ENOTEMPTY;
      this.removeName(nd, nk, old);
    }
    d.children!.delete(k);
    nd.children!.set(nk, n.ino);
    if (isDir(n)) {
      n.parent = nd.ino;
      d.nlink--;
      nd.nlink++;
    }
    d.mtime = d.ctime = nd.mtime = nd.ctime = n.ctime = now();
    return 0;
  }

  link(ctx: RequestContext, oldNodeid: number, newName: Uint8Array, out: EntryOut): number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    const n = this.nodes.get(oldNodeid);
    if (!n) return Errno.ENOENT;
    if (isDir(n)) return Errno.EPERM;
    if (d.children!.has(key(newName))) return Errno.EEXIST;
    d.children!.set(key(newName), n.ino);
    n.nlink++;
    n.ctime = d.mtime = d.ctime = now();
    this.fillEntry(n, out);
    return 0;
  }

  private openNode(n: Node, flags: number, openFlags: number, out: OpenOut): number {
    if (flags & O_TRUNC && (n.mode & S_IFMT) === S_IFREG) {
      this.resize(n, 0);
      n.mtime = n.ctime = now();
    }
    if (openFlags & FUSE_OPEN_KILL_SUIDGID) this.killSuid(n);
    n.opens++;
    out.fh = this.nextFh++;
    this.handles.set(out.fh, { ino: n.ino });
    return 0;
  }

  open(ctx: RequestContext, flags: number, openFlags: number, out: OpenOut): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    return this.openNode(n, flags, openFlags, out);
  }

  create(ctx: RequestContext, name: Uint8Array, mode: number, _umask: number, flags: number, openFlags: number,
    entry: EntryOut, open: OpenOut): number {
    const n = this.addChild(ctx, name, S_IFREG | (mode & 0o7777), entry);
    if (typeof n === 'number') return n;
    return this.openNode(n, flags, openFlags, open);
  }

  tmpfile(ctx: RequestContext, mode: number, _umask: number, flags: number, entry: EntryOut, open: OpenOut): number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    const n = this.newNode(S_IFREG | (mode & 0o7777), ctx.uid, ctx.gid);
    n.nlink = 0;
    this.fillEntry(n, entry);
    return this.openNode(n, flags, 0, open);
  }

  private byFh(fh: number): Node | undefined {
    const h = this.handles.get(fh);
    return h ? this.nodes.get(h.ino) : undefined;
  }

  read(_ctx: RequestContext, fh: number, offset: number, size: number, out: DataOut): number {
    const n = this.byFh(fh);
    if (!n) return Errno.EBADF;
    const end = Math.min(n.size, offset + size);
    out.length = end > offset ? n.data.copy(out.dest, 0, offset, end) : 0;
    return 0;
  }

  write(_ctx: RequestContext, fh: number, offset: number, data: Uint8Array, writeFlags: number, out: NumOut): number {
    const n = this.byFh(fh);
    if (!n) return Errno.EBADF;
    if (offset + data.length > n.size) this.resize(n, offset + data.length);
    n.data.set(data, offset);
    if (writeFlags & FUSE_WRITE_KILL_SUIDGID) this.killSuid(n);
    n.mtime = n.ctime = now();
    out.value = data.length;
    return 0;
  }

  flush(): number { return 0; }
  fsync(): number { return 0; }
  fsyncdir(): number { return 0; }

  release(_ctx: RequestContext, fh: number): number {
    const n = this.byFh(fh);
    this.handles.delete(fh);
    if (n) {
      n.opens--;
      this.maybeFree(n);
    }
    return 0;
  }

  opendir(ctx: RequestContext, _flags: number, out: OpenOut): number {
    const d = this.dir(ctx);
    if (typeof d === 'number') return d;
    out.fh = this.nextFh++;
    const entries: [string, number][] = [['.', d.ino], ['..', d.parent], ...d.children!];
    this.handles.set(out.fh, { ino: d.ino, entries });
    return 0;
  }

  releasedir(_ctx: RequestContext, fh: number): number {
    this.handles.delete(fh);
    return 0;
  }

  readdir(_ctx: RequestContext, fh: number, offset: number, out: DirentSink): number {
    const h = this.handles.get(fh);
    if (!h?.entries) return Errno.EBADF;
    for (let i = offset; i < h.entries.length; i++) {
      const [name, ino] = h.entries[i]!;
      const n = this.nodes.get(ino);
      if (!n) continue;
      if (!out.add(Buffer.from(name, 'latin1'), ino, dtypeOfMode(n.mode), i + 1)) break;
    }
    return 0;
  }

  readdirplus(_ctx: RequestContext, fh: number, offset: number, out: DirentPlusSink): number {
    const h = this.handles.get(fh);
    if (!h?.entries) return Errno.EBADF;
    const dir = this.nodes.get(h.ino);
    for (let i = offset; i < h.entries.length; i++) {
      const [name, ino] = h.entries[i]!;
      const n = this.nodes.get(ino);
      const dot = name === '.' || name === '..';
      if (!n || (!dot && dir?.children?.get(name) !== ino)) continue; // removed since opendir
      const e = out.nextEntry();
      this.fillAttr(n, e.attr);
      if (!dot) {
        e.nodeid = n.ino;
        e.generation = n.generation;
      }
      if (!out.add(Buffer.from(name, 'latin1'), e, i + 1)) break;
      if (!dot) n.nlookup++;
    }
    return 0;
  }

  statfs(_ctx: RequestContext, out: StatfsOut): number {
    out.bsize = out.frsize = 4096;
    out.blocks = 1 << 20;
    out.bfree = out.bavail = (1 << 20) - 100;
    out.files = 1 << 16;
    out.ffree = (1 << 16) - this.nodes.size;
    out.namelen = 255;
    return 0;
  }

  getxattr(ctx: RequestContext, name: Uint8Array, out: DataOut): number {
    const v = this.nodes.get(ctx.nodeid)?.xattrs.get(key(name));
    if (!v) return Errno.ENODATA;
    out.data = v;
    return 0;
  }

  setxattr(ctx: RequestContext, name: Uint8Array, value: Uint8Array, flags: number): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    const k = key(name);
    if (flags & XATTR_CREATE && n.xattrs.has(k)) return Errno.EEXIST;
    if (flags & XATTR_REPLACE && !n.xattrs.has(k)) return Errno.ENODATA;
    n.xattrs.set(k, Buffer.from(value));
    n.ctime = now();
    return 0;
  }

  listxattr(ctx: RequestContext, out: DataOut): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    out.data = Buffer.from([...n.xattrs.keys()].map((k) => k + '\0').join(''), 'latin1');
    return 0;
  }

  removexattr(ctx: RequestContext, name: Uint8Array): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    if (!n.xattrs.delete(key(name))) return Errno.ENODATA;
    return 0;
  }

  statx(ctx: RequestContext, _fh: number | null, _sxFlags: number, _mask: number, out: StatxOut): number {
    const n = this.nodes.get(ctx.nodeid);
    if (!n) return Errno.ENOENT;
    out.mask = 0xfff; // STATX_BASIC_STATS | STATX_BTIME
    out.blksize = 4096; out.nlink = n.nlink; out.uid = n.uid; out.gid = n.gid; out.mode = n.mode;
    out.ino = n.ino; out.size = n.size; out.blocks = Math.ceil(n.size / 512);
    out.atime = n.atime.sec; out.atimeNsec = n.atime.nsec; out.mtime = n.mtime.sec; out.mtimeNsec = n.mtime.nsec;
    out.ctime = n.ctime.sec; out.ctimeNsec = n.ctime.nsec; out.btime = n.btime.sec; out.btimeNsec = n.btime.nsec;
    out.rdevMajor = n.rdev >>> 8; out.rdevMinor = n.rdev & 0xff;
    return 0;
  }

  fallocate(_ctx: RequestContext, fh: number, offset: number, length: number, mode: number): number {
    const n = this.byFh(fh);
    if (!n) return Errno.EBADF;
    if (mode !== 0) return Errno.EOPNOTSUPP;
    if (offset + length > n.size) this.resize(n, offset + length);
    return 0;
  }

  lseek(_ctx: RequestContext, fh: number, offset: number, whence: number, out: NumOut): number {
    const n = this.byFh(fh);
    if (!n) return Errno.EBADF;
    if (offset >= n.size) return Errno.ENXIO;
    out.value = whence === 3 ? offset : n.size;
    return 0;
  }

  copyFileRange(_ctx: RequestContext, fhIn: number, offIn: number, _nodeidOut: number, fhOut: number, offOut: number,
    len: number, _flags: number, out: NumOut): number {
    const a = this.byFh(fhIn);
    const b = this.byFh(fhOut);
    if (!a || !b) return Errno.EBADF;
    const n = Math.max(0, Math.min(len, a.size - offIn));
    const chunk = Buffer.from(a.data.subarray(offIn, offIn + n));
    if (offOut + n > b.size) this.resize(b, offOut + n);
    chunk.copy(b.data, offOut);
    b.mtime = b.ctime = now();
    out.value = n;
    return 0;
  }
}

export function createFilesystem(): FuseOps {
  return new MemFs();
}

// Serve when run directly (the e2e test runs it as a child process).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const mountpoint = process.argv[2];
  if (!mountpoint) {
    console.error('usage: memfs.ts MOUNTPOINT');
    process.exit(2);
  }
  const { serve } = await import('../../src/fuse/server.js');
  try {
    const method = (process.env.FUSE_MOUNT_METHOD ?? 'auto') as 'auto' | 'mount' | 'fusermount';
    const code = await serve({
      mountpoint, fsModule: import.meta.url, session: { debug: !!process.env.FUSE_DEBUG }, mount: { method },
    });
    process.exitCode = code;
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
