// `fuse4fs-ts extract IMAGE / DEST` against real oracles.
//
// Kernel-mountable images: DEST is compared with the kernel's own loop mount of
// the same image, path by path: type, mode (incl. setuid/setgid/sticky),
// uid/gid, nlink, size, atime/mtime in ns, rdev, symlink targets, data maps
// (SEEK_DATA/SEEK_HOLE, normalised to 4 KiB chunks since DEST's filesystem
// has its own block size) and the bytes inside the data ranges (holes are zero
// by definition), xattrs (`getfattr -d -m - -h -e hex`), ACLs (`getfacl -n`),
// and hardlink groups.
//
// The 64 KiB-block image (the kernel refuses it): metadata against
// `debugfs -R stat` of every path, file bytes against `debugfs dump`, big
// sparse files against their stamped content (manifest), slow symlink targets,
// xattrs and ACLs against the manifest's facts.
//
// The CLI runs from src/cli/main.ts bundled by esbuild at test start (or through tsx).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, rmSync, type BigIntStats } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { expectedStampedContent, imagePath, listImages, type FileFacts, type ManifestEntry } from '../helpers/images.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';
import { debugfsCommands, hasTool } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-cli-extract-'));
const CLI = cliCommand();
after(() => { rmSync(work, { recursive: true, force: true }); CLI.cleanup(); });

/**
 * How to start the CLI: src/cli/main.ts bundled once by esbuild (which tsx
 * brings) into tmp/ for a quick start, else `node --import tsx src/cli/main.ts`.
 */
function cliCommand(): { argv: string[]; cleanup: () => void } {
  const main = join(ROOT, 'src/cli/main.ts');
  try {
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    const dir = join(ROOT, 'tmp', `cli-test-${process.pid}`);
    const out = join(dir, 'cli', 'main.js');
    esbuild.buildSync({ entryPoints: [main], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'error' });
    return { argv: [out], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch {
    return { argv: ['--import', 'tsx', main], cleanup: () => {} };
  }
}

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI.argv, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function extract(image: string, dest: string): void {
  const r = cli(['extract', image, '/', dest]);
  assert.equal(r.stderr, '', `extract wrote to stderr: ${r.stderr}`);
  assert.equal(r.code, 0);
}

// ---------------------------------------------------------------- tree snapshots

interface Node { rel: string; st: BigIntStats; target?: string }

/** Every path under root (root excluded), lstat'ed before anything reads it (atime). */
function snapshot(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p, { bigint: true });
      const node: Node = { rel: r, st };
      if (st.isSymbolicLink()) node.target = readlinkSync(p, 'buffer').toString('hex');
      out.set(r, node);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, '');
  return out;
}

function kind(st: BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'sock';
  return 'other';
}

/** SEEK_DATA/SEEK_HOLE maps of regular files, through perl (Node has no lseek). */
function dataMaps(paths: string[]): [number, number][][] {
  if (paths.length === 0) return [];
  const script = String.raw`
    binmode STDIN; local $/; my @p = split /\0/, <STDIN>;
    for my $i (0..$#p) {
      open(my $fh, '<', $p[$i]) or die "$p[$i]: $!";
      my $size = -s $fh; my @seg; my $pos = 0;
      while ($pos < $size) {
        my $d = sysseek($fh, $pos, 3); last unless defined $d;
        my $h = sysseek($fh, $d, 4); $h = $size unless defined $h;
        push @seg, ($d + 0) . "-" . ($h + 0); $pos = $h;
      }
      print "$i\t", join(',', @seg), "\n";
    }`;
  const r = spawnSync('perl', ['-e', script], { input: paths.join('\0'), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const maps: [number, number][][] = paths.map(() => []);
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+)\t(.*)$/.exec(line);
    if (!m) continue;
    maps[Number(m[1])] = m[2] ? m[2].split(',').map((s) => s.split('-').map(Number) as [number, number]) : [];
  }
  return maps;
}

const CHUNK = 4096;

/** Data ranges rounded out to 4 KiB chunks and merged, clipped to size. */
function chunked(map: [number, number][], size: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of map) {
    const s = Math.floor(a / CHUNK) * CHUNK;
    const e = Math.min(Math.ceil(b / CHUNK) * CHUNK, size);
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function hashRanges(path: string, ranges: [number, number][]): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (const [a, b] of ranges) {
      for (let pos = a; pos < b;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, b - pos), pos);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        pos += n;
      }
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** getfattr -R dump parsed into path -> sorted "name=0xvalue" lines. */
function xattrDump(root: string): Map<string, string[]> {
  const r = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  const out = new Map<string, string[]>();
  let cur = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) { cur = line.slice(8).replace(/^\.\//, ''); out.set(cur, []); continue; }
    if (line.trim() && cur) out.get(cur)!.push(line);
  }
  for (const v of out.values()) v.sort();
  return out;
}

/** getfacl -R -s (only files with extended ACLs) parsed into path -> entries. */
function aclDump(root: string): Map<string, string[]> {
  const r = spawnSync('getfacl', ['-R', '-P', '-s', '-n', '.'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  const out = new Map<string, string[]>();
  let cur = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) { cur = line.slice(8).replace(/^\.\//, ''); out.set(cur, []); continue; }
    if (line.startsWith('#') || !line.trim()) continue;
    out.get(cur)?.push(line);
  }
  return out;
}

function hardlinkGroups(nodes: Map<string, Node>): string[] {
  const byIno = new Map<bigint, string[]>();
  for (const n of nodes.values()) {
    if (n.st.isDirectory() || n.st.nlink < 2n) continue;
    const g = byIno.get(n.st.ino) ?? [];
    g.push(n.rel);
    byIno.set(n.st.ino, g);
  }
  return [...byIno.values()].map((g) => g.sort().join(' = ')).sort();
}

// ---------------------------------------------------------------- kernel comparison

function compareWithMount(mnt: string, dest: string): void {
  const want = snapshot(mnt);
  const got = snapshot(dest);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same paths');
  const files: string[] = [];
  for (const [rel, w] of want) {
    const g = got.get(rel)!;
    const ctx = `${rel}`;
    assert.equal(kind(g.st), kind(w.st), `${ctx}: type`);
    assert.equal((g.st.mode & 0o7777n).toString(8), (w.st.mode & 0o7777n).toString(8), `${ctx}: mode`);
    assert.equal(g.st.uid, w.st.uid, `${ctx}: uid`);
    assert.equal(g.st.gid, w.st.gid, `${ctx}: gid`);
    assert.equal(g.st.nlink, w.st.nlink, `${ctx}: nlink`);
    assert.equal(g.st.mtimeNs, w.st.mtimeNs, `${ctx}: mtime ns`);
    assert.equal(g.st.atimeNs, w.st.atimeNs, `${ctx}: atime ns`);
    if (!w.st.isDirectory()) assert.equal(g.st.size, w.st.size, `${ctx}: size`);
    if (w.st.isCharacterDevice() || w.st.isBlockDevice()) assert.equal(g.st.rdev, w.st.rdev, `${ctx}: rdev`);
    if (w.st.isSymbolicLink()) assert.equal(g.target, w.target, `${ctx}: symlink target`);
    if (w.st.isFile()) files.push(rel);
  }
  // Data maps and bytes.
  const wm = dataMaps(files.map((f) => join(mnt, f)));
  const gm = dataMaps(files.map((f) => join(dest, f)));
  files.forEach((rel, i) => {
    const size = Number(want.get(rel)!.st.size);
    const w = chunked(wm[i]!, size);
    const g = chunked(gm[i]!, size);
    assert.deepEqual(g, w, `${rel}: data map (4 KiB chunks)`);
    assert.equal(hashRanges(join(dest, rel), w), hashRanges(join(mnt, rel), w), `${rel}: bytes`);
  });
  assert.deepEqual(hardlinkGroups(got), hardlinkGroups(want), 'hardlink groups');
  assert.deepEqual(Object.fromEntries(xattrDump(dest)), Object.fromEntries(xattrDump(mnt)), 'xattrs');
  assert.deepEqual(Object.fromEntries(aclDump(dest)), Object.fromEntries(aclDump(mnt)), 'ACLs');
}

// ---------------------------------------------------------------- manifest facts

const TYPE_OF: Record<FileFacts['type'], string> = {
  file: 'file', directory: 'dir', symlink: 'symlink', fifo: 'fifo', socket: 'sock', chardev: 'chr', blockdev: 'blk',
};

/** The manifest's per-path facts (from debugfs at image build time) against DEST. */
function compareWithManifest(entry: ManifestEntry, dest: string): void {
  const byIno = new Map<number, bigint>();
  for (const [path, f] of Object.entries(entry.files)) {
    const p = join(dest, path);
    const st = lstatSync(p, { bigint: true });
    assert.equal(kind(st), TYPE_OF[f.type], `${path}: type`);
    assert.equal(Number(st.mode & 0o7777n), parseInt(f.mode, 8), `${path}: mode`);
    assert.equal(Number(st.uid), f.uid, `${path}: uid`);
    assert.equal(Number(st.gid), f.gid, `${path}: gid`);
    assert.equal(st.mtimeNs, BigInt(f.mtime.sec) * 1_000_000_000n + BigInt(f.mtime.ns), `${path}: mtime`);
    if (f.type !== 'directory') {
      assert.equal(Number(st.size), f.size, `${path}: size`);
      assert.equal(Number(st.nlink), f.links, `${path}: links`);
    }
    if (f.target !== undefined) assert.equal(readlinkSync(p, 'utf8'), f.target, `${path}: target`);
    if (f.rdev) {
      const w = spawnSync('stat', ['-c', '%Hr:%Lr', p], { encoding: 'utf8' }).stdout.trim();
      assert.equal(w, `${f.rdev.major}:${f.rdev.minor}`, `${path}: rdev`);
    }
    // hardlinks: one dest inode per image inode
    const seen = byIno.get(f.ino);
    if (seen !== undefined) assert.equal(st.ino, seen, `${path}: hardlink to the same inode`);
    byIno.set(f.ino, st.ino);
    for (const [k, fact] of Object.entries(f)) {
      if (!k.startsWith('xattr:')) continue;
      const name = k.slice(6);
      const r = spawnSync('getfattr', ['-h', '--only-values', '-n', name, p], { encoding: 'buffer' });
      assert.equal(r.status, 0, `${path}: getfattr ${name}: ${r.stderr.toString()}`);
      const x = fact as { len: number; sha256: string };
      assert.equal(r.stdout.length, x.len, `${path}: ${name} length`);
      assert.equal(createHash('sha256').update(r.stdout).digest('hex'), x.sha256, `${path}: ${name} value`);
    }
    if (f.acl !== undefined) {
      const r = spawnSync('getfacl', ['-cn', '-p', p], { encoding: 'utf8' });
      const got = r.stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/\s+#.*$/, '')).join(',');
      assert.equal(got, f.acl, `${path}: ACL`);
    }
    if (f.stamp && f.type === 'file') {
      const bs = entry.blockSize;
      if (f.size <= 64 << 20) {
        assert.ok(readFileSync(p).equals(expectedStampedContent(path, f)), `${path}: stamped content`);
      }
      // Data map (where no kernel map was compared): the image blocks holding
      // stamped units are data, the rest holes. (Not exact for every image:
      // mke2fs -d with inline_data leaves block 0 of ext4-inline's
      // /sparse/over4g allocated, as the kernel also reports.)
      if (entry.kernelMountable) continue;
      const units: [number, number][] = [];
      for (const spec of f.stamp.blocks) {
        const [start, count, step = 1] = spec.split(':').map(Number) as [number, number, number?];
        for (let i = 0; i < count; i++) {
          const b = start + i * step;
          const a = Math.floor((b * f.stamp.unit) / bs) * bs;
          const e = Math.ceil(((b + 1) * f.stamp.unit) / bs) * bs;
          if (a < f.size) units.push([a, Math.min(e, f.size)]);
        }
      }
      units.sort((x, y) => x[0] - y[0]);
      assert.deepEqual(chunked(dataMaps([p])[0]!, f.size), chunked(units, f.size), `${path}: data map`);
    }
  }
}

// ---------------------------------------------------------------- debugfs comparison (64 KiB blocks)

/** debugfs stat of every path, and dump of every regular file up to 64 MiB, against DEST. */
function compareWithDebugfs(image: string, dest: string): void {
  const nodes = snapshot(dest);
  const rels = [...nodes.keys()];
  const quote = (rel: string) => `"/${rel.replace(/"/g, '\\"')}"`;
  const out = debugfsCommands(image, rels.map((r) => `stat ${quote(r)}`));
  const chunks = out.split(/^debugfs: stat .*\n/m).slice(1);
  assert.equal(chunks.length, rels.length, 'one debugfs stat per path');
  const dumps = mkdtempSync(join(work, 'dump-'));
  const toDump: [string, string][] = [];
  rels.forEach((rel, i) => {
    const text = chunks[i]!;
    const st = nodes.get(rel)!.st;
    const m = /Type: (.+?)\s+Mode:\s+0?(\d+)/.exec(text);
    assert.ok(m, `${rel}: debugfs stat parsed`);
    const types: Record<string, string> = { regular: 'file', directory: 'dir', symlink: 'symlink', 'character special': 'chr', 'block special': 'blk', FIFO: 'fifo', socket: 'sock' };
    assert.equal(kind(st), types[m[1]!], `${rel}: type`);
    assert.equal(Number(st.mode & 0o7777n), parseInt(m[2]!, 8), `${rel}: mode`);
    const ug = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(text)!;
    assert.equal(Number(st.uid), Number(ug[1]), `${rel}: uid`);
    assert.equal(Number(st.gid), Number(ug[2]), `${rel}: gid`);
    const time = (label: string) => {
      const t = new RegExp(`${label}: 0x([0-9a-f]{8}):([0-9a-f]{8})`).exec(text)!;
      const lo = parseInt(t[1]!, 16) | 0;
      const extra = parseInt(t[2]!, 16);
      return BigInt(lo + (extra & 3) * 2 ** 32) * 1_000_000_000n + BigInt(extra >>> 2);
    };
    assert.equal(st.mtimeNs, time('mtime'), `${rel}: mtime`);
    assert.equal(st.atimeNs, time('atime'), `${rel}: atime`);
    const links = Number(/Links: (\d+)/.exec(text)![1]);
    assert.equal(Number(st.nlink), links, `${rel}: links`);
    if (!st.isDirectory()) assert.equal(Number(st.size), Number(/Size: (\d+)/.exec(text)![1]), `${rel}: size`);
    const dev = /Device major\/minor number: (\d+):(\d+)/.exec(text);
    if (dev) {
      const w = spawnSync('stat', ['-c', '%Hr:%Lr', join(dest, rel)], { encoding: 'utf8' }).stdout.trim();
      assert.equal(w, `${Number(dev[1])}:${Number(dev[2])}`, `${rel}: rdev`);
    }
    const fast = /Fast link dest: "(.*)"/.exec(text);
    if (fast) assert.equal(readlinkSync(join(dest, rel), 'latin1'), fast[1], `${rel}: fast symlink target`);
    if ((st.isFile() && st.size <= 64n << 20n) || (st.isSymbolicLink() && !fast)) toDump.push([rel, join(dumps, String(i))]);
  });
  debugfsCommands(image, toDump.map(([rel, file]) => `dump ${quote(rel)} ${file}`));
  for (const [rel, file] of toDump) {
    const p = join(dest, rel);
    const want = readFileSync(file);
    const got = lstatSync(p).isSymbolicLink() ? readlinkSync(p, 'buffer') : readFileSync(p);
    assert.ok(got.equals(want), `${rel}: bytes as debugfs dump`);
  }
}

// ---------------------------------------------------------------- tests

/**
 * DEST on a private tmpfs: it holds any xattr size the image has (the host's
 * /tmp may lack ea_inode and refuse 12 KiB values), keeps sparse files sparse
 * and does not touch the host disk. Falls back to a plain temp dir.
 */
async function withTmpfs(fn: (dir: string, tmpfs: boolean) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(work, 'dest-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1g,mode=755', 'fuse4fs-ts-extract', dir], { encoding: 'utf8' });
  try {
    await fn(dir, m.status === 0);
  } finally {
    if (m.status === 0) spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const haveTools = hasTool('getfattr') && hasTool('getfacl') && hasTool('perl');
const isRoot = process.getuid?.() === 0;

describe('extract IMAGE / DEST', () => {
  for (const entry of listImages()) {
    test(`${entry.name}: matches the ${entry.kernelMountable ? "kernel's loop mount" : 'debugfs view'} and the manifest`, async (t) => {
      if (!isRoot) return t.skip('needs root (chown, device nodes, trusted.* xattrs)');
      if (!haveTools) return t.skip('needs getfattr, getfacl (packages attr, acl) and perl');
      const image = imagePath(entry.name);
      await withTmpfs(async (dest, tmpfs) => {
        if (!tmpfs && entry.features.includes('ea_inode')) {
          t.skip('no tmpfs for DEST: the host filesystem may refuse the 12 KiB xattr values');
          return;
        }
        extract(image, dest);
        // First the comparisons that lstat before reading (reading DEST moves its atimes).
        if (entry.kernelMountable) {
          if (canLoopMount()) await withLoopMount(image, (mnt) => compareWithMount(mnt, dest));
          else t.diagnostic('loop mounts unavailable: only the manifest facts are checked');
        } else {
          compareWithDebugfs(image, dest);
        }
        compareWithManifest(entry, dest);
      });
    });
  }
});

describe('extract of a subtree', () => {
  test('PATH lands as DEST/<name>, a file PATH as DEST/<file>, existing files are not overwritten', { skip: !isRoot }, () => {
    const image = imagePath('ext4');
    const dest = mkdtempSync(join(work, 'sub-'));
    let r = cli(['extract', image, '/dir/sub', dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(dest), ['sub']);
    assert.equal(readFileSync(join(dest, 'sub/deep/file.txt'), 'utf8').length, 25);
    r = cli(['extract', image, '/hello.txt', dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dest, 'hello.txt'), 'utf8').length, 14);
    r = cli(['extract', image, '/hello.txt', dest]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^fuse4fs-ts: .*hello\.txt: cannot create file: .*\n$/);
    r = cli(['extract', image, '/', join(dest, 'hello.txt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^fuse4fs-ts: .*not a directory.*\n$/);
    rmSync(dest, { recursive: true, force: true });
  });
});
