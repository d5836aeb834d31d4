// Real mounts of the in-memory test filesystem (test/helpers/memfs.ts),
// exercised by real programs: ls, cp, cmp, ln, mv, rm, stat, setfattr/getfattr,
// umount; plus SIGTERM to the server. Needs root and /dev/fuse.
// Protocol note §3a (mount dance), §1.5 (what 6.18 sends).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const MEMFS = new URL('../helpers/memfs.ts', import.meta.url).pathname;

function skipReason(): string | null {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing';
  if ((process.getuid?.() ?? 1) !== 0) return 'not root (mounting goes through mount(8) as root)';
  return null;
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function mounted(mnt: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Server { child: ChildProcess; mnt: string; exit: Promise<number | null>; stderr: () => string }

async function startMemfs(env: Record<string, string> = {}): Promise<Server> {
  const mnt = mkdtempSync(join(tmpdir(), 'fuse-memfs-'));
  const child = spawn(process.execPath, ['--import', 'tsx', MEMFS, mnt], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let exited = false;
  void exit.then(() => { exited = true; });
  await waitFor(() => mounted(mnt) || exited, 20_000, `mount of ${mnt}`);
  if (exited) throw new Error(`server exited before mounting: ${err}`);
  // First access completes INIT.
  execFileSync('stat', [mnt], { stdio: 'ignore' });
  return { child, mnt, exit, stderr: () => err };
}

async function cleanup(s: Server | null): Promise<void> {
  if (!s) return;
  if (mounted(s.mnt)) {
    try { execFileSync('umount', ['-l', s.mnt]); } catch { /* already gone */ }
  }
  if (s.child.exitCode === null) s.child.kill('SIGKILL');
  try { rmSync(s.mnt, { recursive: true, force: true }); } catch { /* ignore */ }
}

const sh = (cmd: string, args: string[], cwd?: string): string => execFileSync(cmd, args, { cwd, encoding: 'utf8' });

test('memfs mounted: ls, cp/cmp, ln, mv, stat (statx btime), xattrs, rm -rf, umount', { timeout: 120_000 }, async (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  let s: Server | null = null;
  try {
    s = await startMemfs();
    const m = s.mnt;
    assert.equal(sh('ls', ['-A', m]), '');

    // write / read through cp (a few MiB: several 1 MiB WRITE requests)
    const src = join(tmpdir(), `memfs-src-${process.pid}`);
    writeFileSync(src, randomBytes(3 * 1024 * 1024 + 123));
    try {
      sh('cp', [src, join(m, 'big')]);
      sh('cmp', [src, join(m, 'big')]);
    } finally {
      rmSync(src, { force: true });
    }
    writeFileSync(join(m, 'a'), 'hello\n');
    assert.equal(readFileSync(join(m, 'a'), 'utf8'), 'hello\n');

    // hard link: same inode number, nlink 2 on both names
    sh('ln', [join(m, 'a'), join(m, 'b')]);
    const st = sh('stat', ['-c', '%i %h', join(m, 'a'), join(m, 'b')]).trim().split('\n');
    assert.equal(st.length, 2);
    assert.equal(st[0], st[1]);
    assert.match(st[0]!, / 2$/);

    // mkdir, mv (RENAME2 NOREPLACE from coreutils), symlink
    sh('mkdir', ['-p', join(m, 'd/e/f')]);
    sh('mv', [join(m, 'b'), join(m, 'd/c')]);
    assert.equal(readFileSync(join(m, 'd/c'), 'utf8'), 'hello\n');
    sh('ln', ['-s', '../a', join(m, 'd/link')]);
    assert.equal(sh('readlink', [join(m, 'd/link')]).trim(), '../a');
    assert.equal(readFileSync(join(m, 'd/link'), 'utf8'), 'hello\n');

    // ls -l sees everything with the right types
    const ls = sh('ls', ['-l', join(m, 'd')]);
    assert.match(ls, /^-rw-r--r-- +2 .* c$/m);
    assert.match(ls, /^d.* e$/m);
    assert.match(ls, /^l.* link -> \.\.\/a$/m);

    // GNU stat asks STATX with btime
    const birth = Number(sh('stat', ['-c', '%W', join(m, 'a')]).trim());
    assert.ok(birth > 1_600_000_000, `birth time ${birth}`);

    // xattrs
    if (has('setfattr') && has('getfattr')) {
      sh('setfattr', ['-n', 'user.color', '-v', 'blue', join(m, 'a')]);
      assert.equal(sh('getfattr', ['--only-values', '-n', 'user.color', join(m, 'a')]), 'blue');
      const dump = sh('getfattr', ['-d', join(m, 'a')]);
      assert.match(dump, /user\.color="blue"/);
      sh('setfattr', ['-x', 'user.color', join(m, 'a')]);
      assert.doesNotMatch(sh('getfattr', ['-d', join(m, 'a')]), /user\.color/);
    } else {
      t.diagnostic('setfattr/getfattr missing (apt package attr): xattr checks skipped');
    }

    // rm -rf of a tree, then the link count of the remaining name drops to 1
    sh('rm', ['-rf', join(m, 'd')]);
    assert.equal(sh('ls', ['-A', m]).split('\n').filter(Boolean).sort().join(' '), 'a big');
    assert.equal(sh('stat', ['-c', '%h', join(m, 'a')]).trim(), '1');

    // umount: the server sees ENODEV and exits 0
    sh('umount', [m]);
    const code = await s.exit;
    assert.equal(code, 0, s.stderr());
    assert.equal(mounted(m), false);
    assert.doesNotMatch(s.stderr(), /failed|BUG|memfs problems/);
  } finally {
    await cleanup(s);
  }
});

test('SIGTERM to the server unmounts cleanly and exits 0', { timeout: 60_000 }, async (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  let s: Server | null = null;
  try {
    s = await startMemfs();
    writeFileSync(join(s.mnt, 'x'), 'x');
    s.child.kill('SIGTERM');
    const code = await s.exit;
    assert.equal(code, 0, s.stderr());
    assert.equal(mounted(s.mnt), false, 'unmounted');
    assert.match(s.stderr(), /SIGTERM: unmounting/);
  } finally {
    await cleanup(s);
  }
});

test('a mountpoint that is missing, a file, non-empty or already mounted gives one clear line', { timeout: 60_000 }, async (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const { checkMountpoint } = await import('../../src/fuse/mountpoint.js');
  const dir = mkdtempSync(join(tmpdir(), 'fuse-mp-'));
  try {
    assert.match(checkMountpoint(join(dir, 'nope'))!, /does not exist/);
    writeFileSync(join(dir, 'file'), '');
    assert.match(checkMountpoint(join(dir, 'file'))!, /not a directory/);
    assert.match(checkMountpoint(dir)!, /not empty/);
    assert.equal(checkMountpoint(dir, true), null);
    assert.match(checkMountpoint('/proc')!, /already a mount point/);
    // Through the server: a clear error and exit 1, nothing mounted.
    const r = spawn(process.execPath, ['--import', 'tsx', MEMFS, join(dir, 'file')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    r.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((res) => r.on('exit', res));
    assert.equal(code, 1);
    assert.match(err, /is not a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mount through fusermount3 with the fd passed back over SCM_RIGHTS (koffi)', { timeout: 60_000 }, async (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  if (!has('fusermount3')) return t.skip('fusermount3 missing (apt package fuse3)');
  try {
    const name = 'koffi';
    await import(name);
  } catch {
    return t.skip('optional dependency koffi not installed');
  }
  let s: Server | null = null;
  try {
    s = await startMemfs({ FUSE_MOUNT_METHOD: 'fusermount' });
    writeFileSync(join(s.mnt, 'f'), 'via fusermount3');
    assert.equal(readFileSync(join(s.mnt, 'f'), 'utf8'), 'via fusermount3');
    sh('umount', [s.mnt]);
    assert.equal(await s.exit, 0, s.stderr());
  } finally {
    await cleanup(s);
  }
});
