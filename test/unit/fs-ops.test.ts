// Scenario tests of the Filesystem API (src/ext2/fs.ts): every operation and
// its errors, each scenario on a fresh copy of several image flavours. A
// scenario's body runs the calls and asserts their results, and returns what
// the tree must then hold (path -> expected facts). Those are checked on the
// live Filesystem, then after close(): `e2fsck -fn` exit 0, a read-only reopen
// through our reader, and on kernel-mountable images a loop mount (lstat with
// ns times, file contents, readlink, getfattr, lsattr).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Filesystem, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, now } from '../../src/ext2/fs.js';
import { InodeFlags, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFREG, S_IFSOCK, type Timestamp } from '../../src/ext2/layout/inode.js';
import { SEEK_DATA, SEEK_HOLE } from '../../src/ext2/file-write.js';
import { maxIndirectBlocks } from '../../src/ext2/indirect.js';
import { ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, ACL_USER_OBJ, encodeXattrAcl } from '../../src/ext2/acl.js';
import { Errno, errnoName } from '../../src/util/errno.js';
import { freshCopy, getImage } from '../helpers/images.js';
import { e2fsck, hasTool, mke2fs, superblockFields } from '../helpers/tools.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';
import { fsResolve, hashContent, nameBytes, pattern, snapshotFs, snapshotKernel, type Facts, type Kind } from '../helpers/model.js';

const TOOLS = hasTool('e2fsck') && hasTool('dumpe2fs');
const KERNEL = TOOLS && canLoopMount() && hasTool('getfattr') && hasTool('lsattr');
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const b = nameBytes;
const enc = new TextEncoder();

/** Namespace and attribute scenarios run on these; data scenarios on DATA. */
const NS = ['ext4', 'ext2-1k'];
const DATA = ['ext4', 'ext2-1k', 'ext4-inline', 'ext4-64k'];
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const KEEP = 1;
const PUNCH = 2;
const ZERO = 0x10;

// ---------------------------------------------------------------- expectations

interface Want {
  kind?: Kind;
  mode?: number;
  uid?: number;
  gid?: number;
  nlink?: number;
  size?: number;
  /** the whole content (implies size) */
  content?: Uint8Array | string;
  /** bytes expected at offsets (for files too large to compare whole) */
  bytesAt?: [number, Uint8Array][];
  /** symlink target */
  target?: string | Uint8Array;
  rdev?: string;
  /** the exact xattr set: name -> value */
  xattrs?: Record<string, Uint8Array | string>;
  /** "sec.nsec" strings */
  times?: Partial<Record<'atime' | 'mtime' | 'ctime', string>>;
  /** the same inode as this other path */
  sameAs?: string;
  /** lsattr letters that must be set (i, a) and that must not */
  iflags?: { set?: string; clear?: string };
}
/** path -> facts, or null when the path must not exist */
type Wants = Record<string, Want | null>;

const bytesOf = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? enc.encode(v) : v);
const hexOf = (v: Uint8Array | string): string => Buffer.from(bytesOf(v)).toString('hex');
const tsOf = (t: Timestamp): string => `${t.sec}.${String(t.nsec).padStart(9, '0')}`;
const LSATTR: Record<string, number> = { i: InodeFlags.IMMUTABLE, a: InodeFlags.APPEND };

interface Reader {
  label: string;
  /** facts of one path, or null if it does not exist */
  facts(path: string): Facts | null;
  id(path: string): number | bigint | null;
  readAt(path: string, pos: number, len: number): Uint8Array;
  iflags(path: string): number;
}

function checkWants(r: Reader, wants: Wants): void {
  for (const [path, want] of Object.entries(wants)) {
    const where = `${r.label}: /${path}`;
    const f = r.facts(path);
    if (want === null) {
      assert.equal(f, null, `${where} should not exist`);
      continue;
    }
    assert.ok(f, `${where} is missing`);
    for (const k of ['kind', 'mode', 'uid', 'gid', 'nlink', 'size', 'rdev'] as const) {
      if (want[k] !== undefined) assert.equal(f[k], want[k], `${where}: ${k}`);
    }
    if (want.content !== undefined) {
      const c = bytesOf(want.content);
      assert.equal(f.size, c.length, `${where}: size`);
      assert.equal(f.sha, hashContent(c), `${where}: content`);
    }
    for (const [pos, bytes] of want.bytesAt ?? []) {
      assert.deepEqual(Buffer.from(r.readAt(path, pos, bytes.length)), Buffer.from(bytes), `${where}: bytes at ${pos}`);
    }
    if (want.target !== undefined) assert.equal(f.target, hexOf(want.target), `${where}: symlink target`);
    if (want.xattrs !== undefined) {
      const exp = Object.fromEntries(Object.entries(want.xattrs).map(([k, v]) => [k, hexOf(v)]).sort(([x], [y]) => (x! < y! ? -1 : 1)));
      assert.deepEqual(f.xattrs, exp, `${where}: xattrs`);
    }
    for (const [k, v] of Object.entries(want.times ?? {})) assert.equal(f.times?.[k], v, `${where}: ${k}`);
    if (want.sameAs !== undefined) assert.equal(r.id(path), r.id(want.sameAs), `${where}: same inode as /${want.sameAs}`);
    if (want.iflags) {
      const fl = r.iflags(path);
      for (const c of want.iflags.set ?? '') assert.ok(fl & LSATTR[c]!, `${where}: flag ${c} should be set`);
      for (const c of want.iflags.clear ?? '') assert.ok(!(fl & LSATTR[c]!), `${where}: flag ${c} should be clear`);
    }
  }
}

function ourReader(fs: Filesystem, label: string, crtime: boolean): Reader {
  const ino = (path: string): number => {
    const i = fsResolve(fs, path);
    if (i < 0) throw new Error(`${label}: /${path}: ${errnoName(i)}`);
    return i;
  };
  return {
    label,
    facts(path) {
      const i = fsResolve(fs, path);
      if (i === -Errno.ENOENT) return null;
      if (i < 0) throw new Error(`${label}: /${path}: ${errnoName(i)}`);
      return snapshotFs(fs, i, { shallow: true, times: true, crtime }).get('')!;
    },
    id: (path) => { const i = fsResolve(fs, path); return i < 0 ? null : i; },
    readAt(path, pos, len) {
      const buf = new Uint8Array(len);
      const n = fs.read(ino(path), pos, buf);
      assert.equal(n, len, `${label}: read /${path} at ${pos}`);
      return buf;
    },
    iflags: (path) => fs.getFlags(ino(path)),
  };
}

function kernelReader(mnt: string): Reader {
  const abs = (path: string) => join(mnt, path);
  return {
    label: 'kernel',
    facts(path) {
      try { lstatSync(abs(path)); } catch { return null; }
      return snapshotKernel(abs(path), { shallow: true, times: true }).get('')!;
    },
    id(path) { try { return lstatSync(abs(path), { bigint: true }).ino; } catch { return null; } },
    readAt(path, pos, len) {
      const fd = openSync(abs(path), 'r');
      try {
        const buf = new Uint8Array(len);
        assert.equal(readSync(fd, buf, 0, len, pos), len, `kernel: read /${path} at ${pos}`);
        return buf;
      } finally {
        closeSync(fd);
      }
    },
    iflags(path) {
      const r = spawnSync('lsattr', ['-d', abs(path)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `lsattr ${path}: ${r.stderr}`);
      const letters = r.stdout.split(/\s+/)[0]!;
      let fl = 0;
      for (const [c, bit] of Object.entries(LSATTR)) if (letters.includes(c)) fl |= bit;
      return fl;
    },
  };
}

function fsckClean(image: string, when: string): void {
  const r = e2fsck(image);
  assert.equal(r.code, 0, `e2fsck -fn ${when}:\n${r.output}`);
}

/**
 * Fresh copy of `flavour`, body on a read-write Filesystem, then the checks of
 * the header comment. The body may return a function to run after the checks
 * with the reopened (read-only) Filesystem.
 */
async function scenario(flavour: string, body: (fs: Filesystem, image: string) => Wants | Promise<Wants>): Promise<void> {
  const entry = getImage(flavour);
  const options = entry.kernelMountOptions.split(',').filter((o) => o !== 'ro' && o !== '');
  await scenarioOn(freshCopy(flavour), entry.inodeSize > 128, entry.kernelMountable ? options : null, body);
}

/** The same on any image; `mountOptions` null when the kernel cannot mount it. */
async function scenarioOn(image: string, crtime: boolean, mountOptions: string[] | null,
  body: (fs: Filesystem, image: string) => Wants | Promise<Wants>): Promise<void> {
  const fs = Filesystem.open(image, { readOnly: false, log: quiet });
  let wants: Wants;
  try {
    wants = await body(fs, image);
    checkWants(ourReader(fs, 'live', crtime), wants);
  } finally {
    fs.close();
  }
  fsckClean(image, 'after the scenario');
  const ro = Filesystem.open(image, { readOnly: true, log: quiet });
  try {
    checkWants(ourReader(ro, 'reopened', crtime), wants);
    assert.equal(ro.vol.sb.s_last_orphan, 0, 'no orphans left after close');
  } finally {
    ro.close();
  }
  if (KERNEL && mountOptions) {
    await withLoopMount(image, (mnt) => checkWants(kernelReader(mnt), wants), { options: mountOptions });
  }
}

/** One test per flavour. */
function scenarios(name: string, flavours: string[], body: (fs: Filesystem, flavour: string, image: string) => Wants | Promise<Wants>): void {
  describe(name, () => {
    for (const f of flavours) {
      test(f, { skip: !TOOLS && 'e2fsprogs not installed' }, () => scenario(f, (fs, image) => body(fs, f, image)));
    }
  });
}

const ok = (r: number, what: string): number => {
  assert.ok(r >= 0, `${what}: ${errnoName(r)}`);
  return r;
};
const err = (r: number, e: keyof typeof Errno, what: string): void => {
  assert.equal(r, -Errno[e], `${what}: want ${e}, got ${r < 0 ? errnoName(r) : r}`);
};
const dev = (major: number, minor: number): number => ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
const mkdir = (fs: Filesystem, dir: number, name: string, mode = 0o755): number => ok(fs.mkdir(dir, b(name), mode, 0, 0), `mkdir ${name}`);
const create = (fs: Filesystem, dir: number, name: string, data?: Uint8Array | string, mode = 0o644): number => {
  const ino = ok(fs.create(dir, b(name), mode, 0, 0), `create ${name}`);
  if (data !== undefined) assert.equal(fs.writeData(ino, 0, bytesOf(data)), bytesOf(data).length, `write ${name}`);
  return ino;
};
const readAll = (fs: Filesystem, ino: number): Uint8Array => {
  const buf = new Uint8Array(fs.getattr(ino).size);
  assert.equal(fs.read(ino, 0, buf), buf.length);
  return buf;
};
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const zeros = (n: number): Uint8Array => new Uint8Array(n);

// ---------------------------------------------------------------- namespace

scenarios('mknod/create: regular, fifo, socket, char and block devices', NS, (fs) => {
  const d = mkdir(fs, 2, 'dev');
  const reg = ok(fs.create(d, b('reg'), 0o640, 1000, 1001), 'create');
  ok(fs.mknod(d, b('fifo'), S_IFIFO | 0o600, 0, 0), 'fifo');
  ok(fs.mknod(d, b('sock'), S_IFSOCK | 0o755, 7, 8), 'socket');
  ok(fs.mknod(d, b('null'), S_IFCHR | 0o666, 0, 0, dev(1, 3)), 'chr');
  ok(fs.mknod(d, b('sda1'), S_IFBLK | 0o660, 0, 6, dev(8, 1)), 'blk');
  ok(fs.mknod(d, b('bigchr'), S_IFCHR | 0o600, 0, 0, dev(300, 70000)), 'chr 300:70000');
  ok(fs.mknod(d, b('maxblk'), S_IFBLK | 0o600, 0, 0, dev(4095, 0xfffff)), 'blk 4095:1048575');
  ok(fs.mknod(d, b('n'.repeat(255)), S_IFREG | 0o644, 0, 0), '255-byte name');
  err(fs.mknod(d, b('reg'), S_IFREG | 0o644, 0, 0), 'EEXIST', 'mknod over a name');
  err(fs.create(d, b('fifo'), 0o644, 0, 0), 'EEXIST', 'create over a fifo');
  err(fs.mknod(d, b('.'), S_IFREG | 0o644, 0, 0), 'EEXIST', 'mknod .');
  err(fs.mknod(d, b('dir'), S_IFDIR | 0o755, 0, 0), 'EINVAL', 'mknod S_IFDIR');
  err(fs.mknod(reg, b('x'), S_IFREG | 0o644, 0, 0), 'ENOTDIR', 'mknod in a file');
  err(fs.create(d, b('n'.repeat(256)), 0o644, 0, 0), 'ENAMETOOLONG', '256-byte name');
  err(fs.create(d, b('a/b'), 0o644, 0, 0), 'EINVAL', 'name with a slash');
  err(fs.lookup(d, b('missing')), 'ENOENT', 'lookup of a missing name');
  err(fs.lookup(reg, b('x')), 'ENOTDIR', 'lookup in a file');
  err(fs.lookup(d, b('n'.repeat(256))), 'ENAMETOOLONG', 'lookup of a 256-byte name');
  return {
    dev: { kind: 'dir', nlink: 2 },
    'dev/reg': { kind: 'file', mode: 0o640, uid: 1000, gid: 1001, nlink: 1, size: 0 },
    'dev/fifo': { kind: 'fifo', mode: 0o600, nlink: 1 },
    'dev/sock': { kind: 'socket', mode: 0o755, uid: 7, gid: 8 },
    'dev/null': { kind: 'chr', mode: 0o666, rdev: '1:3' },
    'dev/sda1': { kind: 'blk', mode: 0o660, gid: 6, rdev: '8:1' },
    'dev/bigchr': { kind: 'chr', rdev: '300:70000' },
    'dev/maxblk': { kind: 'blk', rdev: '4095:1048575' },
    [`dev/${'n'.repeat(255)}`]: { kind: 'file', size: 0 },
  };
});

scenarios('mkdir/rmdir: link counts, "..", ENOTEMPTY, ENOTDIR, EISDIR, EINVAL', NS, (fs) => {
  const root0 = fs.getattr(2).nlink;
  const a = mkdir(fs, 2, 'a', 0o700);
  const bb = mkdir(fs, a, 'b');
  const f = create(fs, bb, 'f', 'x');
  assert.equal(fs.lookup(bb, b('..')), a);
  assert.equal(fs.lookup(a, b('..')), 2);
  assert.equal(fs.lookup(a, b('.')), a);
  assert.equal(fs.getattr(a).nlink, 3);
  err(fs.mkdir(2, b('a'), 0o755, 0, 0), 'EEXIST', 'mkdir over a dir');
  err(fs.mkdir(bb, b('f'), 0o755, 0, 0), 'EEXIST', 'mkdir over a file');
  err(fs.mkdir(f, b('x'), 0o755, 0, 0), 'ENOTDIR', 'mkdir in a file');
  err(fs.mkdir(a, b('d'.repeat(256)), 0o755, 0, 0), 'ENAMETOOLONG', 'mkdir 256-byte name');
  err(fs.rmdir(a, b('b')), 'ENOTEMPTY', 'rmdir of a non-empty dir');
  err(fs.rmdir(bb, b('f')), 'ENOTDIR', 'rmdir of a file');
  err(fs.unlink(a, b('b')), 'EISDIR', 'unlink of a dir');
  err(fs.rmdir(a, b('.')), 'EINVAL', 'rmdir .');
  err(fs.rmdir(a, b('..')), 'ENOTEMPTY', 'rmdir ..');
  err(fs.rmdir(a, b('nope')), 'ENOENT', 'rmdir of a missing name');
  err(fs.rmdir(f, b('x')), 'ENOTDIR', 'rmdir in a file');
  ok(fs.unlink(bb, b('f')), 'unlink f');
  ok(fs.rmdir(a, b('b')), 'rmdir b');
  assert.equal(fs.getattr(a).nlink, 2);
  mkdir(fs, a, 'c');
  mkdir(fs, a, 'd', 0o1777);
  ok(fs.rmdir(a, b('c')), 'rmdir c');
  return {
    '': { nlink: root0 + 1 },
    a: { kind: 'dir', mode: 0o700, nlink: 3 },
    'a/b': null,
    'a/c': null,
    'a/d': { kind: 'dir', mode: 0o1777, nlink: 2 },
  };
});

scenarios('symlink: fast (< 60 bytes) and slow targets', NS, (fs, flavour) => {
  const bs = getImage(flavour).blockSize;
  const d = mkdir(fs, 2, 'l');
  const targets: Record<string, string> = {
    one: 'x', fast59: 'f'.repeat(59), slow60: 's'.repeat(60), slow200: '/a/b/'.repeat(40), max: 'm'.repeat(bs - 1),
  };
  const wants: Wants = {};
  for (const [name, t] of Object.entries(targets)) {
    const ino = ok(fs.symlink(d, b(name), enc.encode(t), 1000, 1000), `symlink ${name}`);
    const a = fs.getattr(ino);
    if (t.length < 60) assert.equal(a.blocks, 0, `${name}: a fast symlink has no blocks`);
    else assert.ok(a.blocks > 0, `${name}: a slow symlink has a block`);
    assert.deepEqual(fs.readlink(ino), enc.encode(t));
    wants[`l/${name}`] = { kind: 'symlink', target: t, size: t.length, mode: 0o777, uid: 1000, nlink: 1 };
  }
  err(fs.symlink(d, b('toolong'), enc.encode('t'.repeat(bs)), 0, 0), 'ENAMETOOLONG', 'target of a block size');
  err(fs.symlink(d, b('empty'), new Uint8Array(0), 0, 0), 'ENOENT', 'empty target');
  err(fs.symlink(d, b('one'), enc.encode('y'), 0, 0), 'EEXIST', 'symlink over a name');
  err(fs.readlink(d) as number, 'EINVAL', 'readlink of a dir');
  wants['l/toolong'] = null;
  return wants;
});

scenarios('link/unlink: link counts, EPERM on dirs, EEXIST, the last unlink frees', NS, (fs) => {
  const data = pattern(10000, 1);
  const f = create(fs, 2, 'orig', data);
  const sub = mkdir(fs, 2, 'sub');
  ok(fs.link(f, 2, b('second')), 'link second');
  ok(fs.link(f, sub, b('third')), 'link third');
  assert.equal(fs.getattr(f).nlink, 3);
  err(fs.link(sub, 2, b('dirlink')), 'EPERM', 'link of a dir');
  err(fs.link(f, 2, b('second')), 'EEXIST', 'link over a name');
  err(fs.link(f, f, b('x')), 'ENOTDIR', 'link into a file');
  err(fs.link(f, 2, b('l'.repeat(256))), 'ENAMETOOLONG', 'link 256-byte name');
  ok(fs.unlink(2, b('orig')), 'unlink orig');
  err(fs.unlink(2, b('orig')), 'ENOENT', 'unlink twice');
  err(fs.unlink(2, b('sub')), 'EISDIR', 'unlink of a dir');
  err(fs.unlink(f, b('x')), 'ENOTDIR', 'unlink in a file');
  assert.equal(fs.getattr(f).nlink, 2);
  // the last name of a file goes: its blocks and inode come back
  const before = fs.statfs();
  const g = create(fs, sub, 'gone', pattern(50000, 2));
  ok(fs.link(g, 2, b('gone2')), 'link gone2');
  const mid = fs.statfs();
  assert.ok(mid.bfree < before.bfree && mid.ffree === before.ffree - 1);
  ok(fs.unlink(sub, b('gone')), 'unlink gone');
  ok(fs.unlink(2, b('gone2')), 'unlink gone2');
  fs.sync(); // with a journal, freed blocks count as free once the transaction commits (as in jbd2)
  const after = fs.statfs();
  assert.equal(after.bfree, before.bfree, 'free blocks back');
  assert.equal(after.ffree, before.ffree, 'free inodes back');
  return {
    orig: null,
    second: { kind: 'file', content: data, nlink: 2 },
    'sub/third': { sameAs: 'second', nlink: 2 },
    'sub/gone': null,
    gone2: null,
    sub: { nlink: 2 },
  };
});

scenarios('rename: plain, across dirs, over a file, over an empty dir, type errors, into its own subtree', NS, (fs) => {
  const a = mkdir(fs, 2, 'a');
  const c = mkdir(fs, 2, 'c');
  create(fs, a, 'f1', 'one');
  create(fs, c, 'f2', 'two');
  ok(fs.rename(a, b('f1'), a, b('g1')), 'plain rename');
  const s0 = fs.statfs();
  ok(fs.rename(a, b('g1'), c, b('f2')), 'rename over a file');
  assert.equal(fs.statfs().ffree, s0.ffree + 1, 'the replaced file is freed');
  const d = mkdir(fs, a, 'd');
  const sub = mkdir(fs, d, 'sub');
  create(fs, sub, 'leaf', 'leaf');
  ok(fs.rename(a, b('d'), c, b('d')), 'move a dir across');
  assert.equal(fs.lookup(d, b('..')), c, '".." follows the move');
  assert.equal(fs.getattr(a).nlink, 2);
  assert.equal(fs.getattr(c).nlink, 3);
  err(fs.rename(c, b('d'), d, b('x')), 'EINVAL', 'into itself');
  err(fs.rename(c, b('d'), sub, b('x')), 'EINVAL', 'into its own subtree');
  err(fs.rename(sub, b('leaf'), c, b('d')), 'ENOTEMPTY', 'a file onto its ancestor');
  mkdir(fs, a, 'empty');
  ok(fs.rename(c, b('d'), a, b('empty')), 'dir over an empty dir');
  assert.equal(fs.getattr(a).nlink, 3);
  assert.equal(fs.getattr(c).nlink, 2);
  assert.equal(fs.lookup(d, b('..')), a);
  const ne = mkdir(fs, a, 'nonempty');
  create(fs, ne, 'x', 'x');
  err(fs.rename(a, b('empty'), a, b('nonempty')), 'ENOTEMPTY', 'dir over a non-empty dir');
  err(fs.rename(c, b('f2'), a, b('nonempty')), 'EISDIR', 'file over a dir');
  err(fs.rename(a, b('empty'), c, b('f2')), 'ENOTDIR', 'dir over a file');
  err(fs.rename(2, b('nope'), 2, b('x')), 'ENOENT', 'missing source');
  err(fs.rename(c, b('f2'), c, b('r'.repeat(256))), 'ENAMETOOLONG', '256-byte target name');
  err(fs.rename(c, b('.'), 2, b('dot')), 'EBUSY', 'rename of .');
  err(fs.rename(c, b('f2'), c, b('f2'), 8), 'EINVAL', 'unknown flag');
  // two names of one inode: nothing happens
  ok(fs.link(fs.lookup(c, b('f2')), c, b('f2b')), 'link f2b');
  ok(fs.rename(c, b('f2'), c, b('f2b')), 'rename onto another name of the same inode');
  return {
    'a/f1': null,
    'a/g1': null,
    'c/f2': { content: 'one', nlink: 2 },
    'c/f2b': { sameAs: 'c/f2' },
    'c/d': null,
    'a/empty': { kind: 'dir', nlink: 3 },
    'a/empty/sub/leaf': { content: 'leaf' },
    a: { nlink: 4 },
    c: { nlink: 2 },
  };
});

scenarios('rename flags: NOREPLACE, EXCHANGE (files; dirs across parents), WHITEOUT', NS, (fs) => {
  create(fs, 2, 'x', 'X');
  create(fs, 2, 'y', 'Y');
  err(fs.rename(2, b('x'), 2, b('y'), RENAME_NOREPLACE), 'EEXIST', 'NOREPLACE onto a name');
  ok(fs.rename(2, b('x'), 2, b('z'), RENAME_NOREPLACE), 'NOREPLACE onto a free name');
  ok(fs.rename(2, b('z'), 2, b('y'), RENAME_EXCHANGE), 'EXCHANGE files');
  err(fs.rename(2, b('z'), 2, b('nope'), RENAME_EXCHANGE), 'ENOENT', 'EXCHANGE with a missing name');
  err(fs.rename(2, b('z'), 2, b('y'), RENAME_EXCHANGE | RENAME_NOREPLACE), 'EINVAL', 'EXCHANGE|NOREPLACE');
  err(fs.rename(2, b('z'), 2, b('y'), RENAME_EXCHANGE | RENAME_WHITEOUT), 'EINVAL', 'EXCHANGE|WHITEOUT');
  // a dir and a file across parents
  const A = mkdir(fs, 2, 'A');
  const B = mkdir(fs, 2, 'B');
  const d1 = mkdir(fs, A, 'd1');
  create(fs, d1, 'inside', 'in');
  create(fs, B, 'file', 'F');
  ok(fs.rename(A, b('d1'), B, b('file'), RENAME_EXCHANGE), 'EXCHANGE dir <-> file across parents');
  assert.equal(fs.lookup(d1, b('..')), B);
  assert.equal(fs.getattr(A).nlink, 2);
  assert.equal(fs.getattr(B).nlink, 3);
  // two dirs across parents
  const C = mkdir(fs, 2, 'C');
  const d2 = mkdir(fs, C, 'd2');
  ok(fs.rename(B, b('file'), C, b('d2'), RENAME_EXCHANGE), 'EXCHANGE dir <-> dir across parents');
  assert.equal(fs.lookup(d1, b('..')), C);
  assert.equal(fs.lookup(d2, b('..')), B);
  assert.equal(fs.getattr(B).nlink, 3);
  assert.equal(fs.getattr(C).nlink, 3);
  err(fs.rename(C, b('d2'), d1, b('inside'), RENAME_EXCHANGE), 'EINVAL', 'EXCHANGE with its own descendant');
  // whiteout
  create(fs, 2, 'w', 'W');
  ok(fs.rename(2, b('w'), C, b('w2'), RENAME_WHITEOUT), 'WHITEOUT');
  return {
    x: null,
    z: { content: 'Y' },
    y: { content: 'X' },
    'A/d1': { content: 'F', kind: 'file' },
    'B/file': { kind: 'dir', nlink: 2 },
    'C/d2': { kind: 'dir', nlink: 2 },
    'C/d2/inside': { content: 'in' },
    A: { nlink: 2 }, B: { nlink: 3 }, C: { nlink: 3 },
    w: { kind: 'chr', rdev: '0:0', nlink: 1 },
    'C/w2': { content: 'W' },
  };
});

scenarios('tmpfile: data through the handle, then linked in (linkat); an unlinked one is freed at release', NS, (fs) => {
  const s0 = fs.statfs();
  const r = fs.tmpfile(2, 0o600, 1000, 1000);
  assert.ok(Array.isArray(r), `tmpfile: ${r}`);
  const [ino, fh] = r as [number, number];
  assert.equal(fs.vol.sb.s_last_orphan, ino, 'a tmpfile is on the orphan list');
  assert.equal(fs.getattr(ino).nlink, 0);
  const data = pattern(5000, 3);
  assert.equal(fs.writeData(ino, 0, data), data.length);
  assert.deepEqual(readAll(fs, ino), data);
  ok(fs.link(ino, 2, b('was-tmp')), 'linkat');
  assert.equal(fs.vol.sb.s_last_orphan, 0, 'linked: off the orphan list');
  assert.equal(fs.getattr(ino).nlink, 1);
  ok(fs.release(fh), 'release');
  // another one, never linked: release frees it
  const s1 = fs.statfs();
  const r2 = fs.tmpfile(2, 0o644, 0, 0) as [number, number];
  fs.writeData(r2[0], 0, pattern(20000, 4));
  ok(fs.release(r2[1]), 'release');
  assert.equal(fs.vol.sb.s_last_orphan, 0);
  fs.sync(); // freed blocks count once committed
  assert.deepEqual([fs.statfs().bfree, fs.statfs().ffree], [s1.bfree, s1.ffree], 'an unlinked tmpfile is freed at release');
  assert.equal(fs.statfs().ffree, s0.ffree - 1);
  err(fs.release(fh), 'EBADF', 'release twice');
  return { 'was-tmp': { kind: 'file', content: data, nlink: 1, mode: 0o600, uid: 1000 } };
});

scenarios('EMLINK at 65000 links', ['ext4'], (fs) => {
  const d = mkdir(fs, 2, 'hardlinks');
  const f = create(fs, d, 'target', 'linked');
  const name = (i: number) => `hard-link-number-${String(i).padStart(5, '0')}`;
  for (let i = 2; i <= 65000; i++) {
    const r = fs.link(f, d, b(name(i)));
    if (r !== 0) assert.fail(`link ${i}: ${errnoName(r)}`);
  }
  assert.equal(fs.getattr(f).nlink, 65000);
  err(fs.link(f, d, b(name(65001))), 'EMLINK', 'link number 65001');
  ok(fs.unlink(d, b(name(2))), 'unlink one');
  ok(fs.link(f, 2, b('one-more')), 'link again below the limit');
  return {
    'hardlinks/target': { nlink: 65000, content: 'linked' },
    [`hardlinks/${name(65000)}`]: { sameAs: 'hardlinks/target' },
    [`hardlinks/${name(2)}`]: null,
    'one-more': { sameAs: 'hardlinks/target' },
  };
});

describe('EMLINK at 65000 subdirectories without dir_nlink', () => {
  test('ext2, 1 KiB blocks, 66000 inodes (made here)', { skip: !TOOLS && 'e2fsprogs not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-emlink-'));
    try {
      const image = join(dir, 'ext2.img');
      mke2fs(['-q', '-t', 'ext2', '-b', '1024', '-N', '66000', '-I', '128', image, '100M']);
      await scenarioOn(image, false, [], (fs) => {
        const p = mkdir(fs, 2, 'parent');
        for (let i = 0; i < 64998; i++) {
          const r = fs.mkdir(p, b(`d${i}`), 0o755, 0, 0);
          if (r < 0) assert.fail(`mkdir ${i}: ${errnoName(r)}`);
        }
        assert.equal(fs.getattr(p).nlink, 65000);
        err(fs.mkdir(p, b('one-too-many'), 0o755, 0, 0), 'EMLINK', 'mkdir number 64999');
        const q = mkdir(fs, 2, 'other');
        err(fs.rename(q, b('..'), p, b('x')), 'EBUSY', 'rename of ..');
        mkdir(fs, q, 'moving');
        err(fs.rename(q, b('moving'), p, b('moved')), 'EMLINK', 'a dir moved into the full one');
        ok(fs.rename(p, b('d0'), q, b('d0')), 'a dir moved out');
        ok(fs.mkdir(p, b('now-it-fits'), 0o755, 0, 0), 'mkdir after one left');
        return { parent: { nlink: 65000 }, 'parent/now-it-fits': { kind: 'dir' }, 'other/d0': { kind: 'dir' }, 'parent/one-too-many': null };
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

scenarios('EFBIG at the format\'s limit', ['ext2-1k', 'ext4'], (fs, flavour) => {
  const bs = getImage(flavour).blockSize;
  // ext2 block map: 12 + apb + apb^2 + apb^3 blocks; extents: 2^32 - 1 blocks (ext4_max_size with huge_file)
  const max = (flavour === 'ext2-1k' ? maxIndirectBlocks(bs) : 2 ** 32 - 1) * bs;
  const f = create(fs, 2, 'big');
  assert.equal(fs.writeData(f, max - 3, enc.encode('end')), 3, 'the last bytes the format can hold');
  err(fs.writeData(f, max - 2, enc.encode('end')), 'EFBIG', 'a write past the limit');
  err(fs.writeData(f, max, enc.encode('x')), 'EFBIG', 'a write at the limit');
  err(fs.setattr(f, { size: max + 1 }), 'EFBIG', 'truncate past the limit');
  ok(fs.setattr(f, { size: max }), 'truncate to the limit');
  if (flavour === 'ext4') err(fs.fallocate(f, KEEP, max, bs), 'EFBIG', 'fallocate past the limit');
  const g = create(fs, 2, 'small', 'abc');
  err(fs.setattr(g, { size: max + bs }), 'EFBIG', 'grow past the limit');
  return {
    big: { size: max, bytesAt: [[max - 3, enc.encode('end')], [0, zeros(16)], [max - 4096 - 3, zeros(16)]] },
    small: { content: 'abc' },
  };
});

// ---------------------------------------------------------------- data

/** A model of one file's bytes, to compare with. */
class Bytes {
  b = new Uint8Array(0);
  write(pos: number, d: Uint8Array): void {
    if (pos + d.length > this.b.length) this.resize(pos + d.length);
    this.b.set(d, pos);
  }
  resize(n: number): void {
    const nb = new Uint8Array(n);
    nb.set(this.b.subarray(0, Math.min(n, this.b.length)));
    this.b = nb;
  }
  zero(from: number, to: number): void { this.b.fill(0, from, Math.min(to, this.b.length)); }
}

scenarios('write/read: sparse, past EOF, overwrite, append; SEEK_DATA/SEEK_HOLE', DATA, (fs, flavour) => {
  const bs = getImage(flavour).blockSize;
  const m = new Bytes();
  const f = create(fs, 2, 'rw');
  const w = (pos: number, d: Uint8Array) => { m.write(pos, d); assert.equal(fs.writeData(f, pos, d), d.length); };
  w(0, pattern(3000, 1));
  w(3000, pattern(5000, 2)); // append
  w(1000, pattern(100, 3)); // overwrite
  w(20000, pattern(10, 4)); // past EOF: a gap of zeros
  w(bs * 3 - 7, pattern(14, 5)); // across a block boundary
  assert.deepEqual(readAll(fs, f), m.b);
  const tail = new Uint8Array(100);
  assert.equal(fs.read(f, m.b.length - 10, tail), 10, 'a read across EOF is short');
  assert.equal(fs.read(f, m.b.length + 10, tail), 0, 'a read past EOF gives nothing');
  // a sparse file: one run of data far out
  const far = 5 << 20;
  const g = create(fs, 2, 'sparse-file');
  const gd = pattern(bs + 17, 6);
  assert.equal(fs.writeData(g, far, gd), gd.length);
  const size = far + gd.length;
  assert.ok(fs.getattr(g).blocks * 512 <= 4 * bs + 3 * bs, 'holes take no blocks');
  const head = new Uint8Array(64 << 10);
  assert.equal(fs.read(g, far - head.length, head), head.length);
  assert.deepEqual(head, zeros(head.length), 'a hole reads as zeros');
  assert.equal(fs.seek(g, 0, SEEK_HOLE), 0);
  assert.equal(fs.seek(g, 0, SEEK_DATA), Math.floor(far / bs) * bs);
  assert.equal(fs.seek(g, far, SEEK_HOLE), size, 'the end is a hole');
  assert.equal(fs.seek(g, size, SEEK_DATA), -Errno.ENXIO);
  assert.equal(fs.seek(g, size - 1, SEEK_DATA), size - 1);
  assert.equal(fs.seek(f, 0, SEEK_DATA), 0);
  const dir = mkdir(fs, 2, 'd');
  err(fs.writeData(dir, 0, enc.encode('x')), 'EISDIR', 'write to a dir');
  err(fs.read(dir, 0, new Uint8Array(1)), 'EISDIR', 'read of a dir');
  return {
    rw: { content: m.b },
    'sparse-file': { size, bytesAt: [[0, zeros(4096)], [far - 100, zeros(100)], [far, gd]] },
  };
});

scenarios('truncate down and up: the old tail reads as zeros', DATA, (fs, flavour) => {
  const bs = getImage(flavour).blockSize;
  const m = new Bytes();
  const f = create(fs, 2, 't');
  const w = (pos: number, d: Uint8Array) => { m.write(pos, d); assert.equal(fs.writeData(f, pos, d), d.length); };
  const t = (n: number) => { m.resize(n); ok(fs.setattr(f, { size: n }), `truncate ${n}`); };
  w(0, pattern(3 * bs + 100, 7));
  t(bs + 10); // inside a block: bytes past it must not come back
  t(4 * bs); // grow: zeros
  assert.deepEqual(readAll(fs, f), m.b);
  w(5 * bs + 5, pattern(10, 8));
  t(5 * bs + 7); // cut inside the last write
  t(7 * bs);
  t(0);
  t(3 * bs);
  assert.equal(fs.getattr(f).blocks, 0, 'truncated to 0 then grown: no blocks');
  w(bs / 2, pattern(bs, 9));
  t(bs / 2 + 3);
  t(2 * bs + 1);
  assert.deepEqual(readAll(fs, f), m.b);
  const g = create(fs, 2, 'small', 'hello world');
  ok(fs.setattr(g, { size: 5 }), 'shrink');
  ok(fs.setattr(g, { size: 11 }), 'grow');
  err(fs.setattr(mkdir(fs, 2, 'd'), { size: 0 }), 'EISDIR', 'truncate a dir');
  return { t: { content: m.b }, small: { content: concat(enc.encode('hello'), zeros(6)) } };
});

scenarios('fallocate: default, KEEP_SIZE past EOF, PUNCH_HOLE, ZERO_RANGE; unwritten reads as zeros', DATA, (fs, flavour): Wants => {
  const e = getImage(flavour);
  const bs = e.blockSize;
  const extents = e.features.includes('extent');
  const m = new Bytes();
  const f = create(fs, 2, 'fa');
  m.write(0, pattern(4 * bs, 10));
  assert.equal(fs.writeData(f, 0, m.b), m.b.length);
  const blocks = () => fs.getattr(f).blocks * 512 / bs;
  if (!extents) {
    err(fs.fallocate(f, 0, 0, bs), 'EOPNOTSUPP', 'fallocate on a block-mapped file');
    err(fs.fallocate(f, ZERO, 0, bs), 'EOPNOTSUPP', 'ZERO_RANGE on a block-mapped file');
    const b0 = blocks();
    ok(fs.fallocate(f, PUNCH | KEEP, bs / 2, 2 * bs), 'punch');
    m.zero(bs / 2, bs / 2 + 2 * bs);
    assert.equal(blocks(), b0 - 1, 'one whole block punched out');
    return { fa: { content: m.b } };
  }
  // default: size grows, the new range reads as zeros (unwritten)
  const b0 = blocks();
  ok(fs.fallocate(f, 0, 4 * bs, 4 * bs), 'fallocate');
  m.resize(8 * bs);
  assert.equal(fs.getattr(f).size, 8 * bs);
  assert.equal(blocks(), b0 + 4, 'blocks allocated');
  assert.deepEqual(readAll(fs, f), m.b, 'unwritten blocks read as zeros');
  assert.equal(fs.seek(f, 4 * bs, SEEK_DATA), -Errno.ENXIO, 'unwritten is a hole for SEEK_DATA');
  assert.equal(fs.seek(f, 0, SEEK_HOLE), 4 * bs);
  // KEEP_SIZE past EOF: blocks, no size
  ok(fs.fallocate(f, KEEP, 10 * bs, 2 * bs), 'fallocate KEEP_SIZE past EOF');
  assert.equal(fs.getattr(f).size, 8 * bs);
  assert.equal(blocks(), b0 + 6);
  // a partial write into an unwritten block: the rest of it stays zero
  const pw = pattern(100, 11);
  assert.equal(fs.writeData(f, 5 * bs + 10, pw), 100);
  m.write(5 * bs + 10, pw);
  assert.equal(fs.seek(f, 4 * bs, SEEK_DATA), 5 * bs);
  // punch: zeros, whole blocks freed
  const b1 = blocks();
  ok(fs.fallocate(f, PUNCH | KEEP, bs / 2, 2 * bs), 'punch');
  m.zero(bs / 2, bs / 2 + 2 * bs);
  assert.equal(blocks(), b1 - 1, 'one whole block punched out');
  // zero range inside a block and across blocks, and growing the file
  ok(fs.fallocate(f, ZERO, 3 * bs - 100, 200), 'zero range');
  m.zero(3 * bs - 100, 3 * bs + 100);
  ok(fs.fallocate(f, ZERO | KEEP, 2 * bs, bs), 'zero range, keep size');
  m.zero(2 * bs, 3 * bs);
  ok(fs.fallocate(f, ZERO, 12 * bs, bs), 'zero range past EOF');
  m.resize(13 * bs);
  assert.deepEqual(readAll(fs, f), m.b);
  err(fs.fallocate(f, PUNCH, 0, bs), 'EOPNOTSUPP', 'punch without KEEP_SIZE');
  err(fs.fallocate(f, PUNCH | KEEP | ZERO, 0, bs), 'EINVAL', 'punch and zero');
  err(fs.fallocate(f, 0, 0, 0), 'EINVAL', 'zero length');
  err(fs.fallocate(f, 0x8, 0, bs), 'EOPNOTSUPP', 'collapse range');
  // a fresh file made only of unwritten extents
  const g = create(fs, 2, 'prealloc');
  ok(fs.fallocate(g, 0, 0, 3 * bs + 5), 'prealloc');
  return {
    fa: { content: m.b },
    prealloc: { content: zeros(3 * bs + 5) },
  };
});

scenarios('inline data: small files grow out of the inode into blocks', ['ext4-inline'], (fs) => {
  const isInline = (ino: number) => (fs.getFlags(ino) & InodeFlags.INLINE_DATA) !== 0;
  const m = new Bytes();
  // (new files start with a block map here: only files the image made inline are inline)
  const f = fsResolve(fs, 'empty');
  assert.ok(isInline(f), '/empty is an inline file');
  const w = (pos: number, d: Uint8Array) => { m.write(pos, d); assert.equal(fs.writeData(f, pos, d), d.length); };
  w(0, pattern(20, 1));
  assert.ok(isInline(f), 'a 20-byte file is inline');
  assert.equal(fs.getattr(f).blocks, 0);
  w(20, pattern(40, 2));
  assert.ok(isInline(f), 'a 60-byte file is still inline');
  w(60, pattern(100, 3));
  w(5000, pattern(10, 4));
  assert.ok(!isInline(f), 'grown out into blocks');
  assert.deepEqual(readAll(fs, f), m.b);
  // existing inline files: /inline/hundred (i_block + system.data) appended to, /inline/tiny truncated up
  const hundred = fsResolve(fs, 'inline/hundred');
  const h0 = readAll(fs, hundred);
  assert.ok(isInline(hundred));
  const more = pattern(5000, 5);
  assert.equal(fs.writeData(hundred, h0.length, more), more.length);
  assert.ok(!isInline(hundred));
  const tiny = fsResolve(fs, 'inline/tiny');
  const t0 = readAll(fs, tiny);
  ok(fs.setattr(tiny, { size: 50 }), 'grow inside the inode');
  assert.ok(isInline(tiny));
  ok(fs.setattr(tiny, { size: 9000 }), 'grow out of the inode');
  // a new directory with enough names to leave the inode
  const d = mkdir(fs, 2, 'newdir');
  for (let i = 0; i < 40; i++) create(fs, d, `entry-${i}`, `${i}`);
  const wants: Wants = {
    empty: { content: m.b },
    'inline/hundred': { content: concat(h0, more) },
    'inline/tiny': { content: concat(t0, zeros(9000 - t0.length)) },
  };
  for (let i = 0; i < 40; i += 13) wants[`newdir/entry-${i}`] = { content: `${i}` };
  return wants;
});

// ---------------------------------------------------------------- attributes

scenarios('setattr: mode, uid, gid, size, times with ns, "now"', NS, (fs, flavour) => {
  const big = getImage(flavour).inodeSize > 128;
  const f = create(fs, 2, 'f', 'content');
  ok(fs.setattr(f, { mode: 0o4751 }), 'chmod');
  ok(fs.setattr(f, { uid: 123456, gid: 654321 }), 'chown');
  ok(fs.setattr(f, { size: 12345 }), 'truncate');
  const at = { sec: 1_600_000_000, nsec: 123_456_789 };
  const mt = { sec: 1_500_000_000, nsec: 987_654_321 };
  const before = now();
  ok(fs.setattr(f, { atime: at, mtime: mt }), 'utimens');
  const a = fs.getattr(f);
  const ns = (t: Timestamp) => (big ? t : { sec: t.sec, nsec: 0 });
  assert.deepEqual(a.mtime, ns(mt));
  assert.deepEqual(a.atime, ns(at));
  assert.ok(a.ctime.sec >= before.sec, 'ctime moves to now');
  // far times: before 1970, and past 2038 where the inode has the extra epoch bits
  const g = create(fs, 2, 'g');
  const old = { sec: -1_000_000_000, nsec: 5 };
  const future = big ? { sec: 2 ** 32 + 100, nsec: 7 } : { sec: 2_000_000_000, nsec: 0 };
  ok(fs.setattr(g, { atime: future, mtime: old }), 'utimens far');
  // "now"
  const h = create(fs, 2, 'h');
  ok(fs.setattr(h, { atime: { sec: 0, nsec: 0 }, mtime: { sec: 0, nsec: 0 } }), 'zero times');
  const t0 = now();
  ok(fs.setattr(h, { atime: 'now', mtime: 'now' }), 'utimens now');
  const t1 = now();
  const hm = fs.getattr(h).mtime;
  const le = (x: Timestamp, y: Timestamp) => x.sec < y.sec || (x.sec === y.sec && x.nsec <= y.nsec);
  assert.ok(le({ sec: t0.sec, nsec: big ? t0.nsec : 0 }, hm) && le(hm, t1), `now: ${tsOf(hm)} in [${tsOf(t0)}, ${tsOf(t1)}]`);
  const d = mkdir(fs, 2, 'd');
  ok(fs.setattr(d, { mode: 0o1777, uid: 5, gid: 6 }), 'chmod a dir');
  err(fs.setattr(fsResolve(fs, 'd'), { size: 1 }), 'EISDIR', 'size of a dir');
  return {
    f: { mode: 0o4751, uid: 123456, gid: 654321, size: 12345, bytesAt: [[0, enc.encode('content')], [7, zeros(100)]],
      times: { atime: tsOf(ns(at)), mtime: tsOf(ns(mt)), ctime: tsOf(fs.getattr(f).ctime) } },
    g: { times: { atime: tsOf(ns(future)), mtime: tsOf(ns(old)) } },
    h: { times: { mtime: tsOf(hm), atime: tsOf(fs.getattr(h).atime) } },
    d: { mode: 0o1777, uid: 5, gid: 6, kind: 'dir' },
  };
});

scenarios('xattrs: create/replace flags, list, remove, ACLs', NS, (fs) => {
  const f = create(fs, 2, 'f', 'x');
  ok(fs.setxattr(f, 'user.color', enc.encode('blue'), XATTR_CREATE), 'create');
  err(fs.setxattr(f, 'user.color', enc.encode('red'), XATTR_CREATE), 'EEXIST', 'create twice');
  ok(fs.setxattr(f, 'user.color', enc.encode('green'), XATTR_REPLACE), 'replace');
  err(fs.setxattr(f, 'user.missing', enc.encode('x'), XATTR_REPLACE), 'ENODATA', 'replace a missing one');
  ok(fs.setxattr(f, 'trusted.t', enc.encode('trusted value'), 0), 'trusted');
  ok(fs.setxattr(f, 'security.s', new Uint8Array(0), 0), 'empty value');
  const big = pattern(600, 12);
  ok(fs.setxattr(f, 'user.big', big, 0), 'a value for the block');
  ok(fs.setxattr(f, 'user.gone', enc.encode('soon'), 0), 'to remove');
  assert.deepEqual(fs.listxattr(f).sort(), ['security.s', 'trusted.t', 'user.big', 'user.color', 'user.gone']);
  ok(fs.removexattr(f, 'user.gone'), 'remove');
  err(fs.removexattr(f, 'user.gone'), 'ENODATA', 'remove twice');
  err(fs.getxattr(f, 'user.gone') as number, 'ENODATA', 'get a removed one');
  assert.deepEqual(fs.getxattr(f, 'user.color'), enc.encode('green'));
  err(fs.setxattr(f, 'user.' + 'n'.repeat(256), enc.encode('x'), 0), 'ERANGE', 'name too long');
  err(fs.setxattr(f, 'nosuch.ns', enc.encode('x'), 0), 'EOPNOTSUPP', 'unknown namespace');
  // ACLs, in the xattr (userspace) form
  const acl = encodeXattrAcl([
    { tag: ACL_USER_OBJ, perm: 6, id: 0 }, { tag: ACL_USER, perm: 4, id: 1000 }, { tag: ACL_GROUP_OBJ, perm: 4, id: 0 },
    { tag: ACL_GROUP, perm: 6, id: 100 }, { tag: ACL_MASK, perm: 6, id: 0 }, { tag: ACL_OTHER, perm: 0, id: 0 },
  ]);
  const g = create(fs, 2, 'aclfile', 'a');
  ok(fs.setxattr(g, 'system.posix_acl_access', acl, 0), 'access ACL');
  assert.deepEqual(fs.getxattr(g, 'system.posix_acl_access'), acl);
  const d = mkdir(fs, 2, 'acldir');
  const dacl = encodeXattrAcl([
    { tag: ACL_USER_OBJ, perm: 7, id: 0 }, { tag: ACL_GROUP_OBJ, perm: 5, id: 0 }, { tag: ACL_OTHER, perm: 5, id: 0 },
  ]);
  ok(fs.setxattr(d, 'system.posix_acl_default', dacl, 0), 'default ACL');
  err(fs.setxattr(g, 'system.posix_acl_access', enc.encode('not an acl'), 0), 'EINVAL', 'malformed ACL');
  return {
    f: { xattrs: { 'user.color': 'green', 'trusted.t': 'trusted value', 'security.s': '', 'user.big': big } },
    aclfile: { xattrs: { 'system.posix_acl_access': acl } },
    acldir: { xattrs: { 'system.posix_acl_default': dacl } },
  };
});

scenarios('flags: immutable (EPERM on write, unlink, rename, setattr) and append-only (write only at EOF)', NS, (fs) => {
  const f = create(fs, 2, 'imm', 'data');
  ok(fs.setFlags(f, fs.getFlags(f) | InodeFlags.IMMUTABLE), 'chattr +i');
  err(fs.writeData(f, 0, enc.encode('x')), 'EPERM', 'write');
  err(fs.setattr(f, { size: 0 }), 'EPERM', 'truncate');
  err(fs.setattr(f, { mode: 0o600 }), 'EPERM', 'chmod');
  err(fs.setattr(f, { uid: 1 }), 'EPERM', 'chown');
  err(fs.setattr(f, { mtime: 'now' }), 'EPERM', 'touch');
  err(fs.unlink(2, b('imm')), 'EPERM', 'unlink');
  err(fs.rename(2, b('imm'), 2, b('moved')), 'EPERM', 'rename');
  err(fs.link(f, 2, b('hard')), 'EPERM', 'link');
  err(fs.setxattr(f, 'user.x', enc.encode('x'), 0), 'EPERM', 'setxattr');
  err(fs.fallocate(f, KEEP, 0, 4096), 'EPERM', 'fallocate');
  const t = create(fs, 2, 'temp', 'temp');
  ok(fs.setFlags(t, fs.getFlags(t) | InodeFlags.IMMUTABLE), 'chattr +i');
  ok(fs.setFlags(t, fs.getFlags(t) & ~InodeFlags.IMMUTABLE), 'chattr -i');
  assert.equal(fs.writeData(t, 4, enc.encode('!')), 1, 'writable again');
  // an immutable directory
  const d = mkdir(fs, 2, 'immdir');
  create(fs, d, 'inside', 'in');
  ok(fs.setFlags(d, fs.getFlags(d) | InodeFlags.IMMUTABLE), 'chattr +i dir');
  err(fs.create(d, b('new'), 0o644, 0, 0), 'EPERM', 'create in an immutable dir');
  err(fs.unlink(d, b('inside')), 'EPERM', 'unlink in an immutable dir');
  err(fs.rename(d, b('inside'), 2, b('out')), 'EPERM', 'rename out of an immutable dir');
  // append-only
  const a = create(fs, 2, 'app', 'log:');
  ok(fs.setFlags(a, fs.getFlags(a) | InodeFlags.APPEND), 'chattr +a');
  assert.equal(fs.writeData(a, 4, enc.encode('one')), 3, 'append at EOF');
  err(fs.writeData(a, 0, enc.encode('x')), 'EPERM', 'write before EOF');
  err(fs.setattr(a, { size: 0 }), 'EPERM', 'truncate');
  err(fs.setattr(a, { mode: 0o600 }), 'EPERM', 'chmod');
  err(fs.unlink(2, b('app')), 'EPERM', 'unlink');
  err(fs.rename(2, b('app'), 2, b('app2')), 'EPERM', 'rename');
  err(fs.fallocate(a, PUNCH | KEEP, 0, 2), 'EPERM', 'punch');
  ok(fs.setattr(a, { mtime: 'now' }), 'touch is allowed on append-only');
  return {
    imm: { content: 'data', iflags: { set: 'i' } },
    temp: { content: 'temp!', iflags: { clear: 'i' } },
    'immdir/inside': { content: 'in' },
    immdir: { iflags: { set: 'i' } },
    app: { content: 'log:one', iflags: { set: 'a', clear: 'i' } },
    moved: null,
    hard: null,
  };
});

// ---------------------------------------------------------------- statfs, EROFS

describe('statfs agrees with dumpe2fs and the kernel', () => {
  for (const flavour of ['ext4', 'ext2-1k', 'ext3']) {
    test(flavour, { skip: !TOOLS && 'e2fsprogs not installed' }, async () => {
      const entry = getImage(flavour);
      const image = freshCopy(flavour);
      const fs = Filesystem.open(image, { readOnly: false, log: quiet });
      const s0 = fs.statfs();
      assert.equal(s0.bsize, entry.blockSize);
      assert.equal(s0.namelen, 255);
      assert.equal(s0.files, entry.inodesCount);
      assert.equal(s0.bfree, entry.freeBlocks);
      assert.equal(s0.ffree, entry.freeInodes);
      const d = mkdir(fs, 2, 'more');
      for (let i = 0; i < 10; i++) create(fs, d, `f${i}`, pattern(3 * entry.blockSize, i));
      const s1 = fs.statfs();
      assert.equal(s1.ffree, s0.ffree - 11);
      assert.ok(s1.bfree <= s0.bfree - 30);
      fs.close();
      fsckClean(image, 'after statfs');
      const sb = superblockFields(image);
      assert.equal(s1.bfree, Number(sb['Free blocks']));
      assert.equal(s1.ffree, Number(sb['Free inodes']));
      if (KERNEL && entry.kernelMountable) {
        const options = entry.kernelMountOptions.split(',').filter((o) => o !== 'ro' && o !== '');
        const k = await withLoopMount(image, (mnt) => statfsSync(mnt), { options });
        assert.equal(k.bsize, s1.bsize, 'bsize');
        assert.equal(k.files, s1.files, 'files');
        assert.equal(k.ffree, s1.ffree, 'ffree');
        assert.equal(k.bfree, s1.bfree, 'bfree');
        assert.equal(k.blocks, s1.blocks, 'blocks (total minus overhead)');
        if (flavour === 'ext2-1k') assert.equal(k.bavail, s1.bavail, 'bavail');
      }
    });
  }
});

describe('EROFS on a read-only Filesystem', () => {
  for (const flavour of NS) {
    test(flavour, { skip: !TOOLS && 'e2fsprogs not installed' }, () => {
      const image = freshCopy(flavour);
      const sum = () => createHash('sha256').update(readFileSync(image)).digest('hex');
      const before = sum();
      const fs = Filesystem.open(image, { readOnly: true, log: quiet });
      try {
        assert.equal(fs.readOnly, true);
        const file = fsResolve(fs, 'hello.txt');
        const dir = fsResolve(fs, 'dir');
        assert.ok(file > 0 && dir > 0);
        const calls: [string, () => unknown][] = [
          ['create', () => fs.create(2, b('n'), 0o644, 0, 0)],
          ['mknod', () => fs.mknod(2, b('n'), S_IFCHR | 0o644, 0, 0, dev(1, 3))],
          ['mkdir', () => fs.mkdir(2, b('n'), 0o755, 0, 0)],
          ['symlink', () => fs.symlink(2, b('n'), enc.encode('t'), 0, 0)],
          ['link', () => fs.link(file, 2, b('n'))],
          ['unlink', () => fs.unlink(2, b('hello.txt'))],
          ['rmdir', () => fs.rmdir(2, b('dir'))],
          ['rename', () => fs.rename(2, b('hello.txt'), 2, b('n'))],
          ['tmpfile', () => fs.tmpfile(2, 0o600, 0, 0)],
          ['writeData', () => fs.writeData(file, 0, enc.encode('x'))],
          ['fallocate', () => fs.fallocate(file, KEEP, 0, 4096)],
          ['setattr', () => fs.setattr(file, { mode: 0o600 })],
          ['setFlags', () => fs.setFlags(file, fs.getFlags(file) | InodeFlags.NODUMP)],
          ['setxattr', () => fs.setxattr(file, 'user.x', enc.encode('x'), 0)],
          ['removexattr', () => fs.removexattr(file, 'user.x')],
        ];
        for (const [name, call] of calls) assert.equal(call(), -Errno.EROFS, `${name} on a read-only volume`);
        // reading still works
        assert.ok(fs.read(file, 0, new Uint8Array(10)) > 0);
      } finally {
        fs.close();
      }
      assert.equal(sum(), before, 'the image is unchanged');
      fsckClean(image, 'after the read-only session');
    });
  }
});

