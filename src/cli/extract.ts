// `extract IMAGE PATH DEST`: copy a subtree out of an image into an existing
// directory, keeping what the kernel would show of it: bytes (sparse: holes
// and unwritten extents are skipped with positioned writes, then ftruncate),
// modes with setuid/setgid/sticky, owners, atime/mtime to the nanosecond,
// symlinks, device nodes, fifos, sockets, user./trusted./security. xattrs,
// POSIX ACLs, and hardlinks as hardlinks.
//
// Phases (the order matters):
//   1. walk the image: create directories (0700 for now), files, symlinks,
//      hardlinks; list special files and every created inode;
//   2. one perl process creates the device nodes, fifos and sockets;
//   3. lchown (root only, unless --no-owner): before xattrs and modes, since
//      chown clears setuid/setgid and security.capability;
//   4. one `setfattr -h --restore=FILE` run sets every xattr and ACL (ACLs
//      converted from ext4's on-disk format to the POSIX xattr format);
//   5. chmod, children before their directory (so a read-only directory does
//      not stop the work below it);
//   6. one perl process sets atime/mtime with utimensat(AT_SYMLINK_NOFOLLOW)
//      from exact seconds + nanoseconds. Node's utimes take a double of
//      seconds, and libuv truncates to microseconds, so they cannot carry ns.
//      Directory times are set after everything inside them is done.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, ftruncateSync, lchownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDir } from '../ext2/dir.js';
import { isInline, readFileRange, readLink, walkRuns } from '../ext2/file.js';
import type { Inode } from '../ext2/inode.js';
import { ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../ext2/layout/inode.js';
import type { Volume } from '../ext2/volume.js';
import { listXattrs, xattrValue } from '../ext2/xattr.js';
import { aclDiskToXattr } from '../ext2/acl.js';
import { CliError, EXIT, describeErrno, isErrno, openImage, resolveOrFail, type ImageOptions } from './common.js';

export interface ExtractOptions extends ImageOptions {
  /** false: do not chown (default: chown when running as root). */
  owner?: boolean;
  /** false: skip xattrs and ACLs. */
  xattrs?: boolean;
}

interface Created {
  path: Buffer;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  atime: { sec: number; nsec: number };
  mtime: { sec: number; nsec: number };
}

interface Special { path: Buffer; kind: 'node' | 'fifo' | 'sock'; mode: number; dev: number }

/** Linux syscall numbers (64-bit ABIs) for utimensat and mknodat; perl calls them directly. */
const SYSCALLS: Record<string, [utimensat: number, mknodat: number]> = {
  x64: [280, 259], arm64: [88, 33], riscv64: [88, 33], loong64: [88, 33], ppc64: [304, 288], s390x: [315, 290],
};

// Records on stdin: fields separated by NUL, each record starts with its op.
// On the first failure: prints "INDEX<TAB>error text" and exits 1.
const PERL_HELPER = String.raw`
use strict; use warnings; use Socket; use POSIX ();
my ($utimensat, $mknodat) = map { $_ + 0 } @ARGV;
binmode STDIN; local $/; my @f = split /\0/, <STDIN>, -1; pop @f if @f && $f[-1] eq '';
my $i = 0; my $n = 0;
sub fail { print "$n\t$_[0]\n"; exit 1; }
while ($i < @f) {
  my $op = $f[$i++]; my $p = $f[$i++];
  if ($op eq 'node') {
    my $mode = $f[$i++] + 0; my $dev = $f[$i++] + 0;
    if ($mknodat) { syscall($mknodat, -100, $p, $mode, $dev) == 0 or fail("$!"); }
    else {
      my $maj = (($dev >> 8) & 0xfff); my $min = ($dev & 0xff) | (($dev >> 12) & 0xfff00);
      system('mknod', '-m', '600', $p, (($mode & 0170000) == 0020000 ? 'c' : 'b'), $maj, $min) == 0 or fail('mknod failed');
    }
  } elsif ($op eq 'fifo') {
    POSIX::mkfifo($p, 0600) or fail("$!");
  } elsif ($op eq 'sock') {
    socket(my $s, AF_UNIX, SOCK_STREAM, 0) or fail("$!");
    bind($s, pack_sockaddr_un($p)) or fail("$!");
    close($s);
  } elsif ($op eq 'time') {
    my @t = map { $_ + 0 } @f[$i .. $i + 3]; $i += 4;
    if ($utimensat) { syscall($utimensat, -100, $p, pack('q4', @t), 0x100) == 0 or fail("$!"); }
    else {
      system('touch', '-h', '-a', '-d', sprintf('@%d.%09d', $t[0], $t[1]), $p) == 0 or fail('touch failed');
      system('touch', '-h', '-m', '-d', sprintf('@%d.%09d', $t[2], $t[3]), $p) == 0 or fail('touch failed');
    }
  } else { fail("bad op $op"); }
  $n++;
}
`;

const SLASH = Buffer.from('/');

function join2(dir: Buffer, name: Uint8Array): Buffer {
  return Buffer.concat([dir, SLASH, name]);
}

function show(p: Buffer): string {
  return p.toString('utf8');
}

/** Write a regular file sparsely: only mapped, written extents; then set the size. */
function writeFileData(vol: Volume, inode: Inode, fd: number, buf: Uint8Array): void {
  const size = inode.size;
  if (isInline(inode)) {
    const data = new Uint8Array(size);
    const n = readFileRange(vol, inode, 0, data);
    if (n > 0) writeAll(fd, data.subarray(0, n), 0);
  } else {
    const bs = vol.blockSize;
    const runs: { start: number; end: number }[] = [];
    walkRuns(vol, inode, (r) => {
      if (r.unwritten || r.physical === 0) return;
      const start = r.logical * bs;
      const end = Math.min((r.logical + r.length) * bs, size);
      if (start < end) runs.push({ start, end });
    });
    for (const r of runs) {
      for (let pos = r.start; pos < r.end;) {
        const want = Math.min(buf.length, r.end - pos);
        const chunk = buf.subarray(0, want);
        const n = readFileRange(vol, inode, pos, chunk);
        if (n === 0) break;
        writeAll(fd, chunk.subarray(0, n), pos);
        pos += n;
      }
    }
  }
  ftruncateSync(fd, size);
}

function writeAll(fd: number, data: Uint8Array, pos: number): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off);
}

/** Encode a path for setfattr's restore format (attr's unquote: backslash + 3 octal digits). */
function quotePath(p: Buffer): string {
  let s = '';
  for (const c of p) s += c > 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`;
  return s;
}

function runTool(cmd: string, args: string[], input: Buffer | string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { input, encoding: 'buffer', maxBuffer: 64 << 20 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `extract needs ${cmd}, which is not installed` : `${cmd}: ${r.error.message}`);
  }
  return { status: r.status ?? 1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

export function runExtract(image: string, path: string, dest: string, opts: ExtractOptions): void {
  let st;
  try {
    st = lstatSync(dest);
  } catch (e) {
    throw new CliError(`${dest}: ${isErrno(e) ? describeErrno(e) : String(e)}`);
  }
  if (!st.isDirectory()) throw new CliError(`${dest}: not a directory (DEST must be an existing directory)`);
  const isRoot = process.getuid?.() === 0;
  const chown = opts.owner !== false && isRoot;
  const vol = openImage(image, opts);
  try {
    const top = resolveOrFail(vol, path, false);
    const ex = new Extractor(vol, chown, opts.xattrs !== false, isRoot);
    const destBuf = Buffer.from(dest);
    if (top === ROOT_INO) {
      ex.extractChildren(vol.inodes.get(ROOT_INO), destBuf);
    } else {
      const parts = path.split('/').filter((p) => p.length > 0);
      ex.extractInode(top, join2(destBuf, Buffer.from(parts[parts.length - 1]!)));
    }
    ex.finish();
  } finally {
    vol.close();
  }
}

class Extractor {
  private created: Created[] = [];
  private specials: Special[] = [];
  private links = new Map<number, Buffer>();
  private dirsSeen = new Set<number>();
  private xattrLines: string[] = [];
  private buf = new Uint8Array(4 << 20);

  constructor(private vol: Volume, private chown: boolean, private xattrs: boolean, private isRoot: boolean) {}

  private fail(p: Buffer, what: string, e: unknown): never {
    if (e instanceof CliError) throw e;
    const msg = isErrno(e) ? describeErrno(e) : e instanceof Error ? e.message : String(e);
    throw new CliError(`${show(p)}: cannot ${what}: ${msg}`);
  }

  extractChildren(dir: Inode, destDir: Buffer): void {
    if (this.dirsSeen.has(dir.ino)) throw new CliError(`corrupt image: directory inode ${dir.ino} is reachable twice`);
    this.dirsSeen.add(dir.ino);
    const entries: { name: Uint8Array; ino: number }[] = [];
    readDir(this.vol, dir, 0, (ino, name) => {
      const dot = (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
      if (!dot) entries.push({ name: name.slice(), ino });
      return true;
    });
    for (const e of entries) {
      if (e.name.includes(0x2f) || e.name.includes(0)) {
        throw new CliError(`corrupt image: directory inode ${dir.ino} has an entry name with '/' or NUL`);
      }
      this.extractInode(e.ino, join2(destDir, e.name));
    }
  }

  extractInode(ino: number, p: Buffer): void {
    const vol = this.vol;
    const inode = vol.inodes.get(ino);
    const type = inode.mode & S_IFMT;
    if (type !== S_IFDIR && inode.linksCount > 1) {
      const first = this.links.get(ino);
      if (first) {
        try { linkSync(first, p); } catch (e) { this.fail(p, `link to ${show(first)}`, e); }
        return;
      }
      this.links.set(ino, p);
    }
    const a = inode.getTime('atime');
    const m = inode.getTime('mtime');
    const rec: Created = { path: p, ino, mode: inode.mode, uid: inode.uid, gid: inode.gid, atime: a, mtime: m };
    switch (type) {
      case S_IFDIR:
        try { mkdirSync(p, 0o700); } catch (e) { this.fail(p, 'create directory', e); }
        this.created.push(rec);
        this.collectXattrs(inode, p);
        this.extractChildren(inode, p);
        return;
      case S_IFREG: {
        let fd: number;
        try { fd = openSync(p, 'wx', 0o600); } catch (e) { this.fail(p, 'create file', e); }
        try { writeFileData(vol, inode, fd, this.buf); } catch (e) { this.fail(p, 'write', e); } finally { closeSync(fd); }
        break;
      }
      case S_IFLNK: {
        const t = readLink(vol, inode);
        if (typeof t === 'number') throw new CliError(`${show(p)}: cannot read the symlink target in the image`);
        try { symlinkSync(Buffer.from(t), p); } catch (e) { this.fail(p, 'create symlink', e); }
        break;
      }
      case S_IFCHR:
      case S_IFBLK: {
        const { major, minor } = inode.rdev;
        const dev = ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
        this.specials.push({ path: p, kind: 'node', mode: (type | 0o600) >>> 0, dev });
        break;
      }
      case S_IFIFO:
        this.specials.push({ path: p, kind: 'fifo', mode: 0, dev: 0 });
        break;
      case S_IFSOCK:
        this.specials.push({ path: p, kind: 'sock', mode: 0, dev: 0 });
        break;
      default:
        throw new CliError(`${show(p)}: inode ${ino} has an unknown file type (mode 0${inode.mode.toString(8)})`);
    }
    this.created.push(rec);
    this.collectXattrs(inode, p);
  }

  private collectXattrs(inode: Inode, p: Buffer): void {
    if (!this.xattrs) return;
    const lines: string[] = [];
    for (const e of listXattrs(this.vol, inode)) {
      let name = e.fullName;
      let value: Uint8Array;
      if (name === 'system.posix_acl_access' || name === 'system.posix_acl_default') {
        const v = aclDiskToXattr(xattrValue(this.vol, inode, e), { ino: inode.ino });
        if (v === null) continue; // an empty ACL: the kernel shows none
        value = v;
      } else if (name.startsWith('user.') || name.startsWith('security.') || (name.startsWith('trusted.') && this.isRoot)) {
        value = xattrValue(this.vol, inode, e);
      } else {
        continue; // system.data (inline data), richacl, unknown indexes, trusted.* as non-root
      }
      name = quotePath(Buffer.from(name));
      lines.push(value.length ? `${name}=0x${Buffer.from(value).toString('hex')}` : `${name}=""`);
    }
    if (lines.length) this.xattrLines.push(`# file: ${quotePath(p)}`, ...lines, '');
  }

  finish(): void {
    const [utimensat, mknodat] = SYSCALLS[arch()] ?? [0, 0];
    // 2. special files
    if (this.specials.length) {
      const recs: Buffer[] = [];
      for (const s of this.specials) {
        recs.push(Buffer.from(`${s.kind}\0`), s.path, Buffer.from('\0'));
        if (s.kind === 'node') recs.push(Buffer.from(`${s.mode}\0${s.dev}\0`));
      }
      this.perl(Buffer.concat(recs), utimensat, mknodat, (i) => {
        const s = this.specials[i]!;
        return `${show(s.path)}: cannot create ${s.kind === 'node' ? 'device node' : s.kind === 'fifo' ? 'fifo' : 'socket'}`;
      });
    }
    // 3. owners
    if (this.chown) {
      for (const c of this.created) {
        try { lchownSync(c.path, c.uid, c.gid); } catch (e) { this.fail(c.path, 'change owner', e); }
      }
    }
    // 4. xattrs and ACLs
    if (this.xattrLines.length) {
      const dir = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-extract-'));
      try {
        const file = join(dir, 'xattrs');
        writeFileSync(file, `${this.xattrLines.join('\n')}\n`);
        const r = runTool('setfattr', ['-h', `--restore=${file}`], '');
        if (r.status !== 0) {
          const first = r.stderr.split('\n').find((l) => l.trim() !== '') ?? `exit status ${r.status}`;
          throw new CliError(`cannot set extended attributes: ${first.replace(/^setfattr: /, '')}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    // 5. modes, children before parents (created is in pre-order)
    for (let i = this.created.length - 1; i >= 0; i--) {
      const c = this.created[i]!;
      if ((c.mode & S_IFMT) === S_IFLNK) continue;
      try { chmodSync(c.path, c.mode & 0o7777); } catch (e) { this.fail(c.path, 'change mode', e); }
    }
    // 6. times, children before parents
    const recs: Buffer[] = [];
    for (let i = this.created.length - 1; i >= 0; i--) {
      const c = this.created[i]!;
      recs.push(Buffer.from('time\0'), c.path, Buffer.from(`\0${c.atime.sec}\0${c.atime.nsec}\0${c.mtime.sec}\0${c.mtime.nsec}\0`));
    }
    if (recs.length) {
      const order = [...this.created].reverse();
      this.perl(Buffer.concat(recs), utimensat, mknodat, (i) => `${show(order[i]!.path)}: cannot set times`);
    }
  }

  private perl(input: Buffer, utimensat: number, mknodat: number, where: (index: number) => string): void {
    const r = runTool('perl', ['-e', PERL_HELPER, String(utimensat), String(mknodat)], input);
    if (r.status === 0) return;
    const m = /^(\d+)\t(.*)$/m.exec(r.stdout);
    if (m) throw new CliError(`${where(Number(m[1]))}: ${m[2]}`);
    const first = r.stderr.split('\n').find((l) => l.trim() !== '') ?? `exit status ${r.status}`;
    throw new CliError(`extract helper (perl) failed: ${first}`, EXIT.failure);
  }
}
