// POSIX and ext4 semantics through a real mount, checked with real programs
// (python3 for the syscalls coreutils cannot make: O_TMPFILE + linkat,
// SEEK_HOLE/SEEK_DATA, I/O on an unlinked fd), on ext4 and ext3 made by
// mke2fs, the committed ext2-1k (128-byte inodes, 1 KiB blocks, block maps)
// and ext4-inline (inline_data) images, and ext4-xattr for EA-inode values:
//   O_TMPFILE then linkat (nlink 0 -> 1), and an O_TMPFILE never linked (freed);
//   unlink while open: fstat nlink 0, write and read through the fd, freed at close;
//   rename over an open file: the old bytes stay readable through the fd;
//   xattrs with setfattr/getfattr: user., trusted., a value that needs the
//     xattr block, many names, removal, persistence across a remount;
//   chattr +i / +a and lsattr: EPERM for writes, truncation, unlink, rename;
//   fallocate -l and -p, SEEK_HOLE/SEEK_DATA, zeros in the punched range;
//   stat -c %W (btime) set and the same after a remount;
//   hardlinks are one kernel inode: append through one name, read through the other.
// Every mount ends with unmount, server exit 0 and e2fsck -fn clean.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { freshCopy } from '../helpers/images.js';
import {
  hasCommand, makeImage, mountSkipReason, python3, run, scratchDir, sh, statfsFree, withMount,
} from '../helpers/mount.js';

const PY = python3();
const skip = mountSkipReason()
  ?? (PY ? null : 'python3 not found (apt-get install -y python3): needed for O_TMPFILE, linkat and SEEK_HOLE')
  ?? (hasCommand('setfattr') ? null : 'setfattr not found (apt-get install -y attr)')
  ?? (hasCommand('chattr') ? null : 'chattr not found (apt-get install -y e2fsprogs)');

// One python helper, several subcommands; prints JSON.
const HELPER = String.raw`
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400

def linkat_follow(src, dst):
    if libc.linkat(AT_FDCWD, src.encode(), AT_FDCWD, dst.encode(), AT_SYMLINK_FOLLOW) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), dst)

cmd, arg = sys.argv[1], sys.argv[2]
out = {}
if cmd == 'tmpfile':
    fd = os.open(arg, os.O_TMPFILE | os.O_RDWR, 0o640)
    os.write(fd, b'written before linkat\n')
    out['nlink_before'] = os.fstat(fd).st_nlink
    linkat_follow('/proc/self/fd/%d' % fd, os.path.join(arg, 'linked'))
    out['nlink_after'] = os.fstat(fd).st_nlink
    os.write(fd, b'written after linkat\n')
    os.close(fd)
    st = os.stat(os.path.join(arg, 'linked'))
    out['mode'] = st.st_mode & 0o7777
    out['content'] = open(os.path.join(arg, 'linked')).read()
    # never linked: freed at close
    fd = os.open(arg, os.O_TMPFILE | os.O_WRONLY, 0o600)
    os.write(fd, b'x' * 200000)
    out['anon_nlink'] = os.fstat(fd).st_nlink
    os.close(fd)
elif cmd == 'unlink-open':
    fd = os.open(arg, os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o644)
    os.write(fd, b'a' * 100000)
    os.unlink(arg)
    out['exists'] = os.path.exists(arg)
    out['nlink'] = os.fstat(fd).st_nlink
    os.write(fd, b'b' * 100000)
    os.fsync(fd)
    out['size'] = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    data = b''
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    out['ok'] = data == b'a' * 100000 + b'b' * 100000
    os.close(fd)
elif cmd == 'rename-over':
    old, new = os.path.join(arg, 'target'), os.path.join(arg, 'incoming')
    with open(old, 'wb') as f:
        f.write(b'old bytes ' * 5000)
    with open(new, 'wb') as f:
        f.write(b'new bytes\n')
    fd = os.open(old, os.O_RDONLY)
    os.rename(new, old)
    out['fd_nlink'] = os.fstat(fd).st_nlink
    out['fd_reads_old'] = os.read(fd, 1 << 20) == b'old bytes ' * 5000
    out['path_reads_new'] = open(old, 'rb').read() == b'new bytes\n'
    os.close(fd)
elif cmd == 'seek':
    fd = os.open(arg, os.O_RDONLY)
    size = os.fstat(fd).st_size
    segs, pos = [], 0
    while pos < size:
        try:
            d = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        segs.append([d, h])
        pos = h
    out['data'] = segs
    out['blocks'] = os.fstat(fd).st_blocks
    os.close(fd)
print(json.dumps(out))
`;

let helperPath = '';
function py(cmd: string, arg: string): Record<string, unknown> {
  if (!helperPath) {
    helperPath = join(scratchDir(), 'semantics-helper.py');
    writeFileSync(helperPath, HELPER);
  }
  return JSON.parse(sh(PY!, [helperPath, cmd, arg])) as Record<string, unknown>;
}

interface Flavour {
  name: string;
  image: () => string;
  blockSize: number;
  /** 256-byte inodes: crtime (btime) exists */
  btime: boolean;
  extents: boolean;
}

const FLAVOURS: Flavour[] = [
  { name: 'ext4', image: () => makeImage('ext4', '64M'), blockSize: 4096, btime: true, extents: true },
  { name: 'ext3', image: () => makeImage('ext3', '64M'), blockSize: 4096, btime: true, extents: false },
  { name: 'ext2-1k', image: () => freshCopy('ext2-1k'), blockSize: 1024, btime: false, extents: false },
  { name: 'ext4-inline', image: () => freshCopy('ext4-inline'), blockSize: 4096, btime: true, extents: true },
];

/** getfattr -d of every name (hex), run from the file's directory so the mountpoint is not in the text. */
const xattrDump = (p: string) => sh('getfattr', ['-d', '-m', '-', '-e', 'hex', basename(p)], { cwd: dirname(p) });

/** What the first mount leaves for the remount to check. */
interface Persisted { btime: number; xattrs: string; linked: string; hard: string }

async function steps(t: TestContext, f: Flavour, mnt: string): Promise<Persisted> {
  const d = join(mnt, 'sem');
  sh('mkdir', [d]);
  const p: Persisted = { btime: 0, xattrs: '', linked: '', hard: '' };

  await t.test('O_TMPFILE + linkat; an unlinked O_TMPFILE is freed at close', () => {
    const before = statfsFree(mnt);
    const r = py('tmpfile', d);
    assert.equal(r.nlink_before, 0);
    assert.equal(r.nlink_after, 1);
    assert.equal(r.mode, 0o640);
    assert.equal(r.content, 'written before linkat\nwritten after linkat\n');
    assert.equal(r.anon_nlink, 0);
    p.linked = r.content as string;
    const after = statfsFree(mnt);
    assert.equal(after.inodes, before.inodes - 1, 'only the linked tmpfile holds an inode');
    assert.ok(before.blocks - after.blocks <= 2, `the anonymous tmpfile's 200 kB were freed (${before.blocks - after.blocks} blocks used)`);
  });

  await t.test('unlink while open: nlink 0, I/O through the fd, freed at close', () => {
    const before = statfsFree(mnt);
    const r = py('unlink-open', join(d, 'doomed'));
    assert.deepEqual(r, { exists: false, nlink: 0, size: 200000, ok: true });
    assert.deepEqual(statfsFree(mnt), before, 'free counts after the last close');
  });

  await t.test('rename over an open file: the fd keeps the old bytes', () => {
    const r = py('rename-over', d);
    assert.deepEqual(r, { fd_nlink: 0, fd_reads_old: true, path_reads_new: true });
    assert.equal(readFileSync(join(d, 'target'), 'utf8'), 'new bytes\n');
  });

  await t.test('xattrs: user., trusted., a block-sized value, many names, removal', () => {
    const file = join(d, 'xa');
    writeFileSync(file, 'xattr carrier\n');
    const big = 'b'.repeat(f.blockSize - 400); // too big for the inode body: the xattr block (with trusted.t)
    sh('setfattr', ['-n', 'user.small', '-v', 'hello', file]);
    sh('setfattr', ['-n', 'trusted.t', '-v', 't'.repeat(100), file]);
    sh('setfattr', ['-n', 'user.big', '-v', big, file]);
    assert.equal(sh('getfattr', ['--only-values', '-n', 'user.big', file]), big);
    assert.equal(sh('getfattr', ['--only-values', '-n', 'trusted.t', file]), 't'.repeat(100));
    // many small names on a second file
    const many = join(d, 'many');
    writeFileSync(many, '');
    for (let i = 0; i < 20; i++) sh('setfattr', ['-n', `user.n${i}`, '-v', `v${i}`, many]);
    const names = sh('getfattr', ['-d', '--absolute-names', many]).split('\n').filter((l) => l.startsWith('user.'));
    assert.equal(names.length, 20);
    sh('setfattr', ['-x', 'user.n7', many]);
    assert.equal(run('getfattr', ['-n', 'user.n7', many]).code, 1, 'removed name is gone');
    assert.match(run('getfattr', ['-n', 'user.n7', many]).stderr, /No such attribute/);
    // replace a value with a shorter one
    sh('setfattr', ['-n', 'user.small', '-v', 'hi', file]);
    assert.equal(sh('getfattr', ['--only-values', '-n', 'user.small', file]), 'hi');
    p.xattrs = xattrDump(file) + xattrDump(many);
  });

  await t.test('chattr +i / +a and lsattr', () => {
    const imm = join(d, 'imm');
    writeFileSync(imm, 'frozen\n');
    sh('chattr', ['+i', imm]);
    assert.match(sh('lsattr', [imm]), /^-*i[-a-zA-Z]* /);
    for (const [cmd, args] of [
      ['sh', ['-c', `echo x >> '${imm}'`]], ['sh', ['-c', `echo x > '${imm}'`]], ['rm', ['-f', imm]],
      ['mv', [imm, `${imm}2`]], ['ln', [imm, `${imm}3`]], ['chmod', ['600', imm]], ['truncate', ['-s', '0', imm]],
      ['setfattr', ['-n', 'user.x', '-v', '1', imm]],
    ] as const) {
      const r = run(cmd, [...args]);
      assert.notEqual(r.code, 0, `${cmd} ${args.join(' ')} on an immutable file succeeded`);
      assert.match(r.stderr, /Operation not permitted/, `${cmd}: ${r.stderr}`);
    }
    assert.equal(readFileSync(imm, 'utf8'), 'frozen\n');
    sh('chattr', ['-i', imm]);
    sh('rm', [imm]);

    const app = join(d, 'app');
    writeFileSync(app, 'line 1\n');
    sh('chattr', ['+a', app]);
    assert.match(sh('lsattr', [app]), /^-*a[-a-zA-Z]* /);
    sh('sh', ['-c', `echo 'line 2' >> '${app}'`]);
    for (const [cmd, args] of [
      ['sh', ['-c', `echo x > '${app}'`]], ['rm', ['-f', app]], ['truncate', ['-s', '0', app]], ['mv', [app, `${app}2`]],
    ] as const) {
      const r = run(cmd, [...args]);
      assert.notEqual(r.code, 0, `${cmd} ${args.join(' ')} on an append-only file succeeded`);
      assert.match(r.stderr, /Operation not permitted/, `${cmd}: ${r.stderr}`);
    }
    assert.equal(readFileSync(app, 'utf8'), 'line 1\nline 2\n');
    // keep +a across the remount
  });

  await t.test('fallocate -l and -p, SEEK_HOLE / SEEK_DATA', () => {
    const bs = f.blockSize;
    const pre = join(d, 'prealloc');
    const r = run('fallocate', ['-l', String(64 * bs), pre]);
    if (f.extents) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sh('stat', ['-c', '%s', pre]).trim(), String(64 * bs));
      assert.ok(Number(sh('stat', ['-c', '%b', pre]).trim()) >= (64 * bs) / 512, 'fallocated blocks are counted');
      assert.deepEqual(readFileSync(pre), Buffer.alloc(64 * bs), 'fallocated range reads zeros');
    } else {
      // the kernel's ext4 driver refuses to preallocate block-mapped files
      assert.ok(r.code === 0 || /not supported/i.test(r.stderr), `fallocate -l on block maps: ${r.stderr}`);
    }
    const file = join(d, 'punched');
    const data = randomBytes(64 * bs);
    writeFileSync(file, data);
    sh('fallocate', ['-p', '-o', String(16 * bs), '-l', String(16 * bs), file]);
    const want = Buffer.from(data);
    want.fill(0, 16 * bs, 32 * bs);
    assert.equal(sh('stat', ['-c', '%s', file]).trim(), String(64 * bs), 'punch keeps the size');
    assert.ok(readFileSync(file).equals(want), 'punched range reads zeros, the rest is unchanged');
    const s = py('seek', file);
    assert.deepEqual(s.data, [[0, 16 * bs], [32 * bs, 64 * bs]], 'SEEK_DATA/SEEK_HOLE segments');
    // block-mapped files also free their indirect blocks; extents may keep a split leaf
    assert.ok((s.blocks as number) <= ((48 * bs) / 512) + 2 * (bs / 512) * 2, `st_blocks ${String(s.blocks)} after punch`);
    // a hole at the end: extend with truncate
    sh('truncate', ['-s', String(128 * bs), file]);
    assert.deepEqual(py('seek', file).data, [[0, 16 * bs], [32 * bs, 64 * bs]], 'truncate up adds a hole');
  });

  await t.test('stat -c %W (btime)', () => {
    const file = join(d, 'born');
    const t0 = Math.floor(Date.now() / 1000);
    writeFileSync(file, 'born\n');
    const w = Number(sh('stat', ['-c', '%W', file]).trim());
    if (f.btime) {
      assert.ok(Math.abs(w - t0) <= 5, `btime ${w} vs now ${t0}`);
      sh('sh', ['-c', `echo more >> '${file}'`]);
      sh('touch', ['-d', '2001-01-01', file]);
      assert.equal(Number(sh('stat', ['-c', '%W', file]).trim()), w, 'btime unchanged by writes and touch');
    } else {
      assert.equal(w, 0, '128-byte inodes have no crtime');
    }
    p.btime = w;
  });

  await t.test('hardlinks are one kernel inode', () => {
    const a = join(d, 'hard-a');
    const b = join(d, 'hard-b');
    writeFileSync(a, 'first line\n');
    sh('ln', [a, b]);
    const [sa, sb] = sh('stat', ['-c', '%i %h', a, b]).trim().split('\n');
    assert.equal(sa, sb);
    assert.match(sa!, / 2$/);
    sh('sh', ['-c', `echo 'appended via b' >> '${b}'`]);
    assert.equal(readFileSync(a, 'utf8'), 'first line\nappended via b\n', 'read via a sees the append via b');
    sh('chmod', ['640', a]);
    assert.equal(sh('stat', ['-c', '%a', b]).trim(), '640', 'chmod via a shows via b');
    sh('rm', [a]);
    assert.equal(sh('stat', ['-c', '%h', b]).trim(), '1');
    p.hard = readFileSync(b, 'utf8');
  });
  return p;
}

describe('mount: semantics', { skip: skip ?? false }, () => {
  for (const f of FLAVOURS) {
    test(f.name, { timeout: 300_000 }, async (t) => {
      const img = f.image();
      const p = await withMount(img, {}, (mnt) => steps(t, f, mnt));
      // remount: what was written is still there
      await withMount(img, {}, (mnt) => {
        const d = join(mnt, 'sem');
        assert.equal(readFileSync(join(d, 'linked'), 'utf8'), p.linked);
        assert.equal(readFileSync(join(d, 'hard-b'), 'utf8'), p.hard);
        assert.equal(readFileSync(join(d, 'target'), 'utf8'), 'new bytes\n');
        assert.equal(xattrDump(join(d, 'xa')) + xattrDump(join(d, 'many')), p.xattrs, 'xattrs after remount');
        assert.equal(Number(sh('stat', ['-c', '%W', join(d, 'born')]).trim()), p.btime, 'btime after remount');
        assert.match(sh('lsattr', [join(d, 'app')]), /^-*a[-a-zA-Z]* /, 'append-only flag after remount');
        sh('chattr', ['-a', join(d, 'app')]);
        sh('rm', ['-rf', d]);
      });
    });
  }

  test('ext4-xattr (ea_inode): a 64 KiB value lives in an EA inode and goes away with its file', { timeout: 120_000 }, async () => {
    const img = freshCopy('ext4-xattr');
    await withMount(img, {}, (mnt) => {
      const file = join(mnt, 'ea-carrier');
      writeFileSync(file, '');
      const before = statfsFree(mnt);
      const value = 'v'.repeat(60_000);
      sh('setfattr', ['-n', 'user.huge', '-v', 'small first', file]);
      sh('setfattr', ['-n', 'user.huge', '-v', value, file]); // then replaced by a value only an EA inode holds
      assert.equal(sh('getfattr', ['--only-values', '-n', 'user.huge', file]), value);
      const mid = statfsFree(mnt);
      assert.ok(mid.inodes < before.inodes, 'an EA inode was allocated');
      sh('rm', [file]);
      const after = statfsFree(mnt);
      assert.equal(after.inodes, before.inodes + 1, 'file and EA inode freed');
    });
  });
});
