// An in-memory model of a directory tree with POSIX semantics (the kernel's
// order of checks for each errno), and one "snapshot" shape that three readers
// produce: the model, our Filesystem (src/ext2/fs.ts), and the kernel through a
// loop mount (lstat, read, readlink, getfattr). Used by the fs-model property
// test and the fs-ops scenarios as the oracle for "the tree reads back as
// expected".
//
// A snapshot maps a root-relative path ('' is the root; names as latin1 so any
// byte survives) to facts: type, permission bits, owner, link count, size,
// content hash, symlink target, device numbers, xattrs (hex), and for the
// second and later names of one inode `link` = the first name (sorted order).
// Files over OPAQUE_BYTES are hashed by their first and last MiB only (a 5 GiB
// sparse file must not cost a 5 GiB read), in every reader alike.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Errno } from '../../src/util/errno.js';
import type { Filesystem } from '../../src/ext2/fs.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from '../../src/ext2/fs.js';
import { InodeFlags, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../../src/ext2/layout/inode.js';

export type Kind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chr' | 'blk';

export interface Facts {
  kind: Kind;
  /** permission bits (07777) */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** files and symlinks */
  size?: number;
  /** files: sha256 of the content (or "partial:" + sha of head and tail MiB) */
  sha?: string;
  /** symlinks: target bytes in hex */
  target?: string;
  /** devices: "major:minor" */
  rdev?: string;
  /** xattr name -> value hex, sorted by name */
  xattrs: Record<string, string>;
  /** set on every name of an inode but the first (in sorted path order) */
  link?: string;
  /** when asked for: "sec.nsec" of atime, mtime, ctime (and crtime where stored) */
  times?: Record<string, string>;
}
export type Snapshot = Map<string, Facts>;

export const OPAQUE_BYTES = 4 << 20;
const MIB = 1 << 20;

const KIND_OF: Record<number, Kind> = {
  [S_IFREG]: 'file', [S_IFDIR]: 'dir', [S_IFLNK]: 'symlink', [S_IFIFO]: 'fifo', [S_IFSOCK]: 'socket', [S_IFCHR]: 'chr', [S_IFBLK]: 'blk',
};
export const IFMT_OF: Record<Kind, number> = {
  file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO, socket: S_IFSOCK, chr: S_IFCHR, blk: S_IFBLK,
};
export function kindOf(mode: number): Kind {
  const k = KIND_OF[mode & S_IFMT];
  if (!k) throw new Error(`unknown file type in mode 0${mode.toString(8)}`);
  return k;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const pathName = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
export const nameBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const join2 = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);
const ts = (t: { sec: number; nsec: number }): string => `${t.sec}.${String(t.nsec).padStart(9, '0')}`;

/** Hash of a file's content given a reader of [pos, pos+len) (the opaque rule above). */
function contentHash(size: number, readAt: (pos: number, dst: Uint8Array) => void): string {
  const h = createHash('sha256');
  const chunk = new Uint8Array(Math.min(MIB, Math.max(size, 1)));
  const readRange = (from: number, to: number): void => {
    for (let pos = from; pos < to;) {
      const n = Math.min(chunk.length, to - pos);
      const dst = chunk.subarray(0, n);
      readAt(pos, dst);
      h.update(dst);
      pos += n;
    }
  };
  if (size <= OPAQUE_BYTES) {
    readRange(0, size);
    return h.digest('hex');
  }
  readRange(0, MIB);
  readRange(size - MIB, size);
  return 'partial:' + h.digest('hex');
}

/** The snapshot's `sha` of a file holding exactly `data`. */
export function hashContent(data: Uint8Array): string {
  return contentHash(data.length, (pos, dst) => dst.set(data.subarray(pos, pos + dst.length)));
}

/** Fills in `link` (by identity, first sorted path wins) and returns the snapshot in sorted order. */
function finish(items: { path: string; id: number | bigint; facts: Facts }[]): Snapshot {
  items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const first = new Map<number | bigint, string>();
  const out: Snapshot = new Map();
  for (const it of items) {
    if (it.facts.kind !== 'dir') {
      const f = first.get(it.id);
      if (f === undefined) first.set(it.id, it.path);
      else it.facts.link = f;
    }
    out.set(it.path, it.facts);
  }
  return out;
}

export interface SnapshotOptions {
  /** Skip these root-relative paths (and below), e.g. "lost+found". */
  skip?: (path: string) => boolean;
  /** Record atime/mtime/ctime (and crtime when `crtime`) in `times`. */
  times?: boolean;
  crtime?: boolean;
  /** Only the root itself, not what a directory holds. */
  shallow?: boolean;
}

// ---------------------------------------------------------------- our reader

/** The tree under `rootIno` as our Filesystem reads it. */
export function snapshotFs(fs: Filesystem, rootIno = 2, opts: SnapshotOptions = {}): Snapshot {
  const items: { path: string; id: number; facts: Facts }[] = [];
  const visit = (ino: number, path: string): void => {
    const a = fs.getattr(ino);
    const kind = kindOf(a.mode);
    const facts: Facts = { kind, mode: a.mode & 0o7777, uid: a.uid, gid: a.gid, nlink: a.nlink, xattrs: {} };
    for (const name of fs.listxattr(ino).sort()) {
      const v = fs.getxattr(ino, name);
      if (typeof v === 'number') throw new Error(`${path}: getxattr ${name} listed but gave ${v}`);
      facts.xattrs[name] = hex(v);
    }
    if (opts.times) {
      facts.times = { atime: ts(a.atime), mtime: ts(a.mtime), ctime: ts(a.ctime) };
      if (opts.crtime) facts.times.crtime = ts(a.crtime);
    }
    if (kind === 'file') {
      facts.size = a.size;
      facts.sha = contentHash(a.size, (pos, dst) => {
        const n = fs.read(ino, pos, dst);
        if (n !== dst.length) throw new Error(`${path}: read at ${pos} gave ${n}, want ${dst.length}`);
      });
    } else if (kind === 'symlink') {
      const t = fs.readlink(ino);
      if (typeof t === 'number') throw new Error(`${path}: readlink gave ${t}`);
      facts.size = a.size;
      facts.target = hex(t);
    } else if (kind === 'chr' || kind === 'blk') {
      facts.rdev = `${(a.rdev >>> 8) & 0xfff}:${(a.rdev & 0xff) | ((a.rdev >>> 12) & 0xfff00)}`;
    }
    items.push({ path, id: ino, facts });
    if (kind === 'dir' && !(opts.shallow && path === '')) {
      const children: [string, number][] = [];
      fs.readdir(ino, 0, (child, name) => {
        const s = pathName(name);
        if (s !== '.' && s !== '..') children.push([s, child]);
        return true;
      });
      for (const [name, child] of children) {
        const p = join2(path, name);
        if (opts.skip?.(p)) continue;
        const looked = fs.lookup(ino, nameBytes(name));
        if (looked !== child) throw new Error(`${p}: readdir says inode ${child}, lookup says ${looked}`);
        visit(child, p);
      }
    }
  };
  visit(rootIno, '');
  return finish(items);
}

// ---------------------------------------------------------------- the kernel

/** xattrs of every path under `dir` through one `getfattr -R` run: abs path -> name -> hex. */
function kernelXattrs(dir: string, recursive = true): Map<string, Record<string, string>> {
  const r = spawnSync('getfattr', [...(recursive ? ['-R', '-P'] : []), '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', dir], {
    encoding: 'latin1', maxBuffer: 256 << 20, env: { ...process.env, LC_ALL: 'C' },
  });
  if (r.error) throw r.error;
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = {};
      out.set(unescapeGetfattr(line.slice(8)), cur);
    } else if (cur && line.length > 0) {
      const eq = line.indexOf('=');
      const name = eq < 0 ? line : line.slice(0, eq);
      let v = eq < 0 ? '' : line.slice(eq + 1);
      if (v.startsWith('0x')) v = v.slice(2);
      else if (v === '""') v = '';
      else throw new Error(`getfattr: cannot parse value in ${JSON.stringify(line)}`);
      cur[unescapeGetfattr(name)] = v.toLowerCase();
    }
  }
  return out;
}

/** getfattr writes bytes outside printable ASCII (and \\, =) as \ooo octal. */
function unescapeGetfattr(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The tree under `dir` (a loop mount, or a path inside one) as the kernel reads it. */
export function snapshotKernel(dir: string, opts: SnapshotOptions = {}): Snapshot {
  const xattrs = kernelXattrs(dir, !opts.shallow);
  const items: { path: string; id: bigint; facts: Facts }[] = [];
  const visit = (abs: Buffer, path: string): void => {
    const absStr = abs.toString('latin1');
    const st = lstatSync(abs, { bigint: true });
    const kind = kindOf(Number(st.mode));
    const facts: Facts = {
      kind, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), nlink: Number(st.nlink),
      xattrs: Object.fromEntries(Object.entries(xattrs.get(absStr) ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))),
    };
    if (opts.times) {
      const t = (ns: bigint) => {
        const nsec = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n; // floor, for times before 1970
        return `${(ns - nsec) / 1_000_000_000n}.${String(nsec).padStart(9, '0')}`;
      };
      facts.times = { atime: t(st.atimeNs), mtime: t(st.mtimeNs), ctime: t(st.ctimeNs) };
      if (opts.crtime) facts.times.crtime = t(st.birthtimeNs);
    }
    if (kind === 'file') {
      const size = Number(st.size);
      facts.size = size;
      const fd = openSync(abs, 'r');
      try {
        facts.sha = contentHash(size, (pos, dst) => {
          let off = 0;
          while (off < dst.length) {
            const n = readSync(fd, dst, off, dst.length - off, pos + off);
            if (n <= 0) throw new Error(`${path}: short read at ${pos + off}`);
            off += n;
          }
        });
      } finally {
        closeSync(fd);
      }
    } else if (kind === 'symlink') {
      const t = readlinkSync(abs, { encoding: 'buffer' });
      facts.size = Number(st.size);
      facts.target = t.toString('hex');
    } else if (kind === 'chr' || kind === 'blk') {
      // glibc's gnu_dev_major/minor
      const rd = st.rdev;
      const major = ((rd >> 8n) & 0xfffn) | ((rd >> 32n) & ~0xfffn);
      const minor = (rd & 0xffn) | ((rd >> 12n) & 0xffffff00n);
      facts.rdev = `${major}:${minor}`;
    }
    items.push({ path, id: st.ino, facts });
    if (kind === 'dir' && !(opts.shallow && path === '')) {
      for (const name of readdirSync(abs, { encoding: 'buffer' })) {
        const p = join2(path, name.toString('latin1'));
        if (opts.skip?.(p)) continue;
        visit(Buffer.concat([abs, Buffer.from('/'), name]), p);
      }
    }
  };
  visit(Buffer.from(dir, 'latin1'), '');
  return finish(items);
}

/** The differences between two snapshots, one line each (at most `limit`). */
export function diffSnapshots(a: Snapshot, b: Snapshot, la = 'want', lb = 'got', limit = 30): string[] {
  const out: string[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const k of keys) {
    if (out.length >= limit) { out.push('...'); break; }
    const x = a.get(k);
    const y = b.get(k);
    const p = k === '' ? '/' : k;
    if (!x) { out.push(`${p}: only in ${lb}: ${JSON.stringify(y)}`); continue; }
    if (!y) { out.push(`${p}: only in ${la}: ${JSON.stringify(x)}`); continue; }
    const fields = new Set([...Object.keys(x), ...Object.keys(y)]) as Set<keyof Facts>;
    for (const f of fields) {
      const vx = JSON.stringify(x[f]);
      const vy = JSON.stringify(y[f]);
      if (vx !== vy) out.push(`${p}: ${f} ${la}=${vx} ${lb}=${vy}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the model

let nextId = 1;

export class MNode {
  readonly id = nextId++;
  mode = 0o644;
  uid = 0;
  gid = 0;
  /** regular files: the content (length = size) */
  data: Uint8Array = new Uint8Array(0);
  /** files too big to model byte by byte: their imported size and hash; data ops avoid them */
  opaque?: { size: number; sha: string };
  target?: Uint8Array;
  rdev?: { major: number; minor: number };
  readonly xattrs = new Map<string, Uint8Array>();
  /** directories */
  entries?: Map<string, MNode>;
  parent?: MNode;
  /** names of this inode inside the model */
  names = 0;
  /** links from outside the model (or counted differently, e.g. lost+found): imported, kept constant */
  extraLinks = 0;
  /** i_flags (IMMUTABLE/APPEND matter) */
  flags = 0;
  constructor(readonly kind: Kind) {
    if (kind === 'dir') this.entries = new Map();
  }
  get size(): number {
    return this.opaque?.size ?? (this.kind === 'symlink' ? this.target!.length : this.data.length);
  }
  get nlink(): number {
    if (this.kind === 'dir') {
      let subdirs = 0;
      for (const c of this.entries!.values()) if (c.kind === 'dir') subdirs++;
      return 2 + subdirs + this.extraLinks;
    }
    return this.names + this.extraLinks;
  }
  isAncestorOf(n: MNode | undefined): boolean {
    for (let cur = n; cur; cur = cur.parent) if (cur === this) return true;
    return false;
  }
}

export interface ModelOptions {
  /** fallocate (default mode, ZERO_RANGE) works: extent-mapped files */
  extents: boolean;
}

export const FALLOC_KEEP_SIZE = 1;
export const FALLOC_PUNCH_HOLE = 2;
export const FALLOC_ZERO_RANGE = 0x10;

/**
 * The model. Each operation returns what the call on a real filesystem must
 * return (0, a byte count, or -errno, the first error in the kernel's order of
 * checks) and applies the change when it succeeds.
 */
export class Model {
  constructor(readonly root: MNode, readonly opts: ModelOptions) {}

  static empty(opts: ModelOptions, mode = 0o755): Model {
    const root = new MNode('dir');
    root.mode = mode;
    return new Model(root, opts);
  }

  /** The tree under rootIno as our Filesystem has it now (trusting our reader: it is tested against the manifest). */
  static fromFs(fs: Filesystem, rootIno: number, opts: ModelOptions, snap: SnapshotOptions = {}): Model {
    const seen = new Map<number, MNode>();
    const inoOf = new Map<MNode, number>();
    const build = (ino: number, path: string, parent: MNode | undefined): MNode => {
      const known = seen.get(ino);
      if (known) { known.names++; return known; }
      const a = fs.getattr(ino);
      const n = new MNode(kindOf(a.mode));
      seen.set(ino, n);
      inoOf.set(n, ino);
      n.mode = a.mode & 0o7777;
      n.uid = a.uid;
      n.gid = a.gid;
      n.flags = a.flags;
      n.names = 1;
      for (const name of fs.listxattr(ino)) {
        const v = fs.getxattr(ino, name);
        if (typeof v !== 'number') n.xattrs.set(name, v);
      }
      if (n.kind === 'file') {
        if (a.size > OPAQUE_BYTES) {
          n.opaque = { size: a.size, sha: snapshotFs(fs, ino).get('')!.sha! };
        } else {
          n.data = new Uint8Array(a.size);
          const r = fs.read(ino, 0, n.data);
          if (r !== a.size) throw new Error(`${path}: read ${r} of ${a.size}`);
        }
      } else if (n.kind === 'symlink') {
        const t = fs.readlink(ino);
        if (typeof t === 'number') throw new Error(`${path}: readlink ${t}`);
        n.target = t.slice();
      } else if (n.kind === 'chr' || n.kind === 'blk') {
        n.rdev = { major: (a.rdev >>> 8) & 0xfff, minor: (a.rdev & 0xff) | ((a.rdev >>> 12) & 0xfff00) };
      } else if (n.kind === 'dir') {
        n.parent = parent;
        const children: [string, number][] = [];
        fs.readdir(ino, 0, (child, name) => {
          const s = pathName(name);
          if (s !== '.' && s !== '..') children.push([s, child]);
          return true;
        });
        for (const [name, child] of children) {
          const p = join2(path, name);
          if (snap.skip?.(p)) continue;
          n.entries!.set(name, build(child, p, n));
        }
      }
      return n;
    };
    const root = build(rootIno, '', undefined);
    // Whatever the model does not explain (links from outside, skipped dirs) stays constant.
    const fix = (n: MNode, done: Set<MNode>): void => {
      if (done.has(n)) return;
      done.add(n);
      const actual = fs.getattr(inoOf.get(n)!).nlink;
      n.extraLinks += actual - n.nlink;
      for (const c of n.entries?.values() ?? []) fix(c, done);
    };
    fix(root, new Set());
    return new Model(root, opts);
  }

  // ---- walking ------------------------------------------------------------------

  /** Every directory, with its path (root first). */
  dirs(): { path: string; node: MNode }[] {
    const out: { path: string; node: MNode }[] = [];
    const walk = (n: MNode, path: string): void => {
      out.push({ path, node: n });
      for (const [name, c] of n.entries!) if (c.kind === 'dir') walk(c, join2(path, name));
    };
    walk(this.root, '');
    return out;
  }

  /** Every name (not the root): path, parent, name, node. */
  entries(): { path: string; dir: MNode; name: string; node: MNode }[] {
    const out: { path: string; dir: MNode; name: string; node: MNode }[] = [];
    for (const d of this.dirs()) {
      for (const [name, node] of d.node.entries!) out.push({ path: join2(d.path, name), dir: d.node, name, node });
    }
    return out;
  }

  resolve(path: string): MNode | undefined {
    let cur: MNode | undefined = this.root;
    for (const part of path === '' ? [] : path.split('/')) {
      cur = cur?.entries?.get(part);
      if (!cur) return undefined;
    }
    return cur;
  }

  // ---- operations ---------------------------------------------------------------

  private checkName(dir: MNode, name: string): number {
    if (name.length === 0) return -Errno.ENOENT;
    if (name.length > 255) return -Errno.ENAMETOOLONG;
    if (name === '.' || name === '..' || dir.entries!.has(name)) return -Errno.EEXIST;
    return 0;
  }

  private add(dir: MNode, name: string, n: MNode): void {
    dir.entries!.set(name, n);
    n.names++;
    if (n.kind === 'dir') n.parent = dir;
  }

  /** may_create (fs/namei.c): writing an immutable directory. */
  private mayCreate(dir: MNode): number {
    return dir.flags & InodeFlags.IMMUTABLE ? -Errno.EPERM : 0;
  }

  /** may_delete (fs/namei.c): the directory, the victim's flags, then its type. */
  private mayDelete(dir: MNode, victim: MNode, isDir: boolean): number {
    if (dir.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    if (victim.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    if (isDir && victim.kind !== 'dir') return -Errno.ENOTDIR;
    if (!isDir && victim.kind === 'dir') return -Errno.EISDIR;
    return 0;
  }

  /** mknod/create/mkdir. */
  mknod(dir: MNode, name: string, kind: Exclude<Kind, 'symlink'>, mode: number, uid: number, gid: number, rdev?: { major: number; minor: number }): number {
    const e = this.checkName(dir, name) || this.mayCreate(dir);
    if (e) return e;
    const n = new MNode(kind);
    n.mode = mode & 0o7777;
    n.uid = uid;
    n.gid = gid;
    if (kind === 'chr' || kind === 'blk') n.rdev = rdev ?? { major: 0, minor: 0 };
    this.add(dir, name, n);
    return 0;
  }

  symlink(dir: MNode, name: string, target: Uint8Array, uid: number, gid: number): number {
    const e = this.checkName(dir, name) || this.mayCreate(dir);
    if (e) return e;
    const n = new MNode('symlink');
    n.mode = 0o777;
    n.uid = uid;
    n.gid = gid;
    n.target = target.slice();
    this.add(dir, name, n);
    return 0;
  }

  /** linkat: filename_create (EEXIST), may_create, vfs_link's checks. */
  link(src: MNode, dir: MNode, name: string): number {
    const e = this.checkName(dir, name) || this.mayCreate(dir);
    if (e) return e;
    if (src.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    if (src.kind === 'dir') return -Errno.EPERM;
    if (src.nlink >= 65000) return -Errno.EMLINK;
    this.add(dir, name, src);
    return 0;
  }

  unlink(dir: MNode, name: string): number {
    const n = dir.entries!.get(name);
    if (!n) return -Errno.ENOENT;
    const e = this.mayDelete(dir, n, false);
    if (e) return e;
    dir.entries!.delete(name);
    n.names--;
    return 0;
  }

  rmdir(dir: MNode, name: string): number {
    const n = dir.entries!.get(name);
    if (!n) return -Errno.ENOENT;
    const e = this.mayDelete(dir, n, true);
    if (e) return e;
    if (n.entries!.size > 0) return -Errno.ENOTEMPTY;
    dir.entries!.delete(name);
    n.names--;
    n.parent = undefined;
    return 0;
  }

  /** renameat2, with the VFS's order of checks (fs/namei.c do_renameat2, vfs_rename) then ext4_rename's. */
  rename(oldDir: MNode, oldName: string, newDir: MNode, newName: string, flags: number): number {
    if (newName.length > 255) return -Errno.ENAMETOOLONG;
    if (oldName === '.' || oldName === '..' || newName === '.' || newName === '..') return -Errno.EBUSY;
    const src = oldDir.entries!.get(oldName);
    if (!src) return -Errno.ENOENT;
    const dst = newDir.entries!.get(newName);
    if ((flags & RENAME_NOREPLACE) && dst) return -Errno.EEXIST;
    if ((flags & RENAME_EXCHANGE) && !dst) return -Errno.ENOENT;
    if (oldDir !== newDir) {
      // lock_rename's trap: the child of the common ancestor on the way to the other parent
      if (src.kind === 'dir' && src.isAncestorOf(newDir)) return -Errno.EINVAL;
      if (dst && dst.kind === 'dir' && dst.isAncestorOf(oldDir)) return (flags & RENAME_EXCHANGE) ? -Errno.EINVAL : -Errno.ENOTEMPTY;
    }
    if (dst === src) return 0;
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    let e = this.mayDelete(oldDir, src, src.kind === 'dir');
    if (e) return e;
    e = dst ? this.mayDelete(newDir, dst, exchange ? dst.kind === 'dir' : src.kind === 'dir') : this.mayCreate(newDir);
    if (e) return e;
    if (exchange) {
      oldDir.entries!.set(oldName, dst!);
      newDir.entries!.set(newName, src);
      if (src.kind === 'dir') src.parent = newDir;
      if (dst!.kind === 'dir') dst!.parent = oldDir;
      return 0;
    }
    if (dst) {
      if (dst.kind === 'dir' && dst.entries!.size > 0) return -Errno.ENOTEMPTY;
      dst.names--;
      if (dst.kind === 'dir') dst.parent = undefined;
    }
    newDir.entries!.set(newName, src);
    if (src.kind === 'dir') src.parent = newDir;
    if (flags & RENAME_WHITEOUT) {
      const wo = new MNode('chr');
      wo.mode = 0;
      wo.rdev = { major: 0, minor: 0 };
      wo.names = 1;
      oldDir.entries!.set(oldName, wo);
    } else {
      oldDir.entries!.delete(oldName);
    }
    return 0;
  }

  /** pwrite: bytes written. */
  write(n: MNode, pos: number, data: Uint8Array): number {
    if (n.kind === 'dir') return -Errno.EISDIR;
    if (n.flags & InodeFlags.IMMUTABLE) return -Errno.EPERM;
    if ((n.flags & InodeFlags.APPEND) && pos !== n.size) return -Errno.EPERM;
    if (data.length === 0) return 0;
    const end = pos + data.length;
    if (end > n.data.length) n.data = grow(n.data, end);
    n.data.set(data, pos);
    return data.length;
  }

  truncate(n: MNode, size: number): number {
    if (n.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    if (n.kind === 'dir') return -Errno.EISDIR;
    if (n.kind !== 'file') return -Errno.EINVAL;
    n.data = size > n.data.length ? grow(n.data, size) : n.data.slice(0, size);
    return 0;
  }

  fallocate(n: MNode, mode: number, offset: number, length: number): number {
    if (n.kind !== 'file') return -Errno.ENODEV;
    if (n.flags & InodeFlags.IMMUTABLE) return -Errno.EPERM;
    if ((n.flags & InodeFlags.APPEND) && (mode & ~FALLOC_KEEP_SIZE)) return -Errno.EPERM;
    if (offset < 0 || length <= 0) return -Errno.EINVAL;
    if ((mode & FALLOC_PUNCH_HOLE) && !(mode & FALLOC_KEEP_SIZE)) return -Errno.EOPNOTSUPP;
    const end = offset + length;
    const size = n.data.length;
    if (mode & FALLOC_PUNCH_HOLE) {
      if (offset < size) n.data.fill(0, offset, Math.min(end, size));
      return 0;
    }
    if (!this.opts.extents) return -Errno.EOPNOTSUPP;
    if (mode & FALLOC_ZERO_RANGE) n.data.fill(0, Math.min(offset, size), Math.min(end, size));
    if (!(mode & FALLOC_KEEP_SIZE) && end > size) n.data = grow(n.data, end);
    return 0;
  }

  setxattr(n: MNode, name: string, value: Uint8Array, flags: number): number {
    if (n.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    const has = n.xattrs.has(name);
    if ((flags & 1) && has) return -Errno.EEXIST;
    if ((flags & 2) && !has) return -Errno.ENODATA;
    n.xattrs.set(name, value.slice());
    return 0;
  }

  removexattr(n: MNode, name: string): number {
    if (n.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    if (!n.xattrs.delete(name)) return -Errno.ENODATA;
    return 0;
  }

  /** notify_change (fs/attr.c): mode, owner and explicit times need neither immutable nor append-only. */
  chmod(n: MNode, mode: number): number {
    if (n.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    n.mode = mode & 0o7777;
    return 0;
  }

  chown(n: MNode, uid: number, gid: number): number {
    if (n.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) return -Errno.EPERM;
    n.uid = uid;
    n.gid = gid;
    return 0;
  }

  /** FS_IOC_SETFLAGS of the immutable and append-only bits (with CAP_LINUX_IMMUTABLE). */
  setFlags(n: MNode, flags: number): number {
    const mask = InodeFlags.IMMUTABLE | InodeFlags.APPEND;
    n.flags = ((n.flags & ~mask) | (flags & mask)) >>> 0;
    return 0;
  }

  // ---- the expected snapshot ------------------------------------------------------

  snapshot(): Snapshot {
    const items: { path: string; id: number; facts: Facts }[] = [];
    const visit = (n: MNode, path: string): void => {
      const facts: Facts = {
        kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, nlink: n.nlink,
        xattrs: Object.fromEntries([...n.xattrs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, hex(v)])),
      };
      if (n.kind === 'file') {
        facts.size = n.size;
        facts.sha = n.opaque ? n.opaque.sha : contentHash(n.data.length, (pos, dst) => dst.set(n.data.subarray(pos, pos + dst.length)));
      } else if (n.kind === 'symlink') {
        facts.size = n.target!.length;
        facts.target = hex(n.target!);
      } else if (n.kind === 'chr' || n.kind === 'blk') {
        facts.rdev = `${n.rdev!.major}:${n.rdev!.minor}`;
      }
      items.push({ path, id: n.id, facts });
      if (n.kind === 'dir') for (const [name, c] of n.entries!) visit(c, join2(path, name));
    };
    visit(this.root, '');
    return finish(items);
  }
}

function grow(a: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set(a.subarray(0, Math.min(a.length, size)));
  return b;
}

/** Deterministic bytes for a write (never all zero, so a lost write shows). */
export function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = (x & 0xff) | 1;
  }
  return out;
}

/** Resolve a root-relative path to an inode number through our Filesystem (or -errno). */
export function fsResolve(fs: Filesystem, path: string, rootIno = 2): number {
  let cur = rootIno;
  for (const part of path === '' ? [] : path.split('/')) {
    const r = fs.lookup(cur, nameBytes(part));
    if (r < 0) return r;
    cur = r;
  }
  return cur;
}

export { join2 as joinPath };
