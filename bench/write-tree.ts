// Whole-tree write benchmark: our library against `mkfs.ext4 -d`.
//
//   node --import tsx bench/write-tree.ts [DIR ...]
//
// Without arguments: the demo tree (test/images/tree/demo) and $BENCH_SRC
// (default /usr/include). For each tree, in the same run:
// - ours: a fresh $BENCH_SIZE (default 512M) image from `mkfs.ext4` (not
//   timed), then timed: Filesystem.open, the tree written through the API
//   (mkdir, create + writeData in 1 MiB chunks, symlink, link for hard links,
//   mknod, setattr for owner/mode/times, directories' times last), close()
//   (the final commit and, with a journal, the checkpoint);
// - mkfs.ext4 -d: the same mkfs options with `-d DIR`, timed as a whole, and an
//   empty mkfs timed alone, so "net" is what copying the tree cost it.
// Each number is the median of BENCH_RUNS (default 3) runs. Our image is then
// checked with `e2fsck -fn` and its tree compared, through our reader, with the
// mkfs -d image (type, mode, owner, links, size, content, symlink targets).
// Set BENCH_JSON=1 for one JSON line per tree.
import { spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Filesystem } from '../src/ext2/fs.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } from '../src/ext2/layout/inode.js';
import { e2fsck } from '../test/helpers/tools.js';
import { diffSnapshots, snapshotFs } from '../test/helpers/model.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SRC = process.env.BENCH_SRC ?? '/usr/include';
const SIZE = process.env.BENCH_SIZE ?? '512M';
const JSON_OUT = process.env.BENCH_JSON === '1';
const WORK = '/tmp/fuse4fs-ts-bench-write';
const DEMO = fileURLToPath(new URL('../test/images/tree/demo', import.meta.url));
const MKFS_OPTS = ['-q', '-F', '-t', 'ext4', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0,nodiscard'];
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface Entry {
  /** path relative to the tree root, '' for the root */
  rel: string;
  name: Buffer;
  parent: number; // index of the parent entry
  kind: 'dir' | 'file' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  atime: { sec: number; nsec: number };
  mtime: { sec: number; nsec: number };
  /** hard links: the key of the inode (dev:ino) when nlink > 1 */
  linkKey?: string;
}

function scan(root: string): Entry[] {
  const out: Entry[] = [];
  const ts = (ns: bigint) => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });
  const visit = (abs: string, rel: string, name: Buffer, parent: number): void => {
    const st = lstatSync(abs, { bigint: true });
    const mode = Number(st.mode);
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    const me = out.length;
    out.push({
      rel, name, parent, kind, mode, uid: Number(st.uid), gid: Number(st.gid), rdev: Number(st.rdev), size: Number(st.size),
      atime: ts(st.atimeNs), mtime: ts(st.mtimeNs),
      ...(kind !== 'dir' && st.nlink > 1n ? { linkKey: `${st.dev}:${st.ino}` } : {}),
    });
    if (kind === 'dir') {
      for (const n of readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) {
        visit(join(abs, n.toString('latin1')), rel ? `${rel}/${n.toString('latin1')}` : n.toString('latin1'), n, me);
      }
    }
  };
  visit(root, '', Buffer.alloc(0), -1);
  return out;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

function mkfs(image: string, tree?: string): number {
  rmSync(image, { force: true });
  const t0 = performance.now();
  run('mkfs.ext4', [...MKFS_OPTS, ...(tree ? ['-d', tree] : []), image, SIZE]);
  return performance.now() - t0;
}

const chunk = Buffer.alloc(1 << 20);

/** The whole tree through the Filesystem API. Returns ms. */
function writeTree(image: string, root: string, entries: Entry[]): number {
  const t0 = performance.now();
  const fs = Filesystem.open(image, { readOnly: false, log: quiet });
  const inoOf = new Int32Array(entries.length);
  const links = new Map<string, number>();
  const check = (r: number, what: string): number => {
    if (r < 0) throw new Error(`${what}: errno ${-r}`);
    return r;
  };
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (i === 0) {
      inoOf[0] = 2;
      continue;
    }
    const dir = inoOf[e.parent]!;
    const name = new Uint8Array(e.name);
    const perm = e.mode & 0o7777;
    let ino: number;
    const known = e.linkKey ? links.get(e.linkKey) : undefined;
    if (known !== undefined) {
      check(fs.link(known, dir, name), `link ${e.rel}`);
      inoOf[i] = known;
      continue;
    }
    switch (e.kind) {
      case 'dir':
        ino = check(fs.mkdir(dir, name, perm, e.uid, e.gid), `mkdir ${e.rel}`);
        break;
      case 'symlink':
        ino = check(fs.symlink(dir, name, new Uint8Array(readlinkSync(join(root, e.rel), { encoding: 'buffer' })), e.uid, e.gid), `symlink ${e.rel}`);
        break;
      case 'file': {
        ino = check(fs.create(dir, name, perm, e.uid, e.gid), `create ${e.rel}`);
        const fd = openSync(join(root, e.rel), 'r');
        try {
          for (let pos = 0; ;) {
            const n = readSync(fd, chunk, 0, chunk.length, pos);
            if (n <= 0) break;
            check(fs.writeData(ino, pos, chunk.subarray(0, n)), `write ${e.rel}`);
            pos += n;
          }
        } finally {
          closeSync(fd);
        }
        break;
      }
      default: {
        const ft = e.mode & 0o170000;
        if (![S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK].includes(ft)) throw new Error(`${e.rel}: unknown type`);
        ino = check(fs.mknod(dir, name, e.mode, e.uid, e.gid, e.rdev), `mknod ${e.rel}`);
      }
    }
    inoOf[i] = ino;
    if (e.linkKey) links.set(e.linkKey, ino);
    if (e.kind !== 'dir') check(fs.setattr(ino, { atime: e.atime, mtime: e.mtime }), `setattr ${e.rel}`);
  }
  // directories last (adding names changed their mtime); the root keeps mkfs's owner and mode, as with -d
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.kind === 'dir') check(fs.setattr(inoOf[i]!, { atime: e.atime, mtime: e.mtime }), `setattr ${e.rel || '/'}`);
  }
  fs.close();
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  tree: string;
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  oursMs: number;
  mkfsDMs: number;
  mkfsEmptyMs: number;
  identical: boolean;
}

function bench(root: string): Row {
  const entries = scan(root);
  const files = entries.filter((e) => e.kind === 'file').length;
  const bytes = entries.reduce((n, e) => n + (e.kind === 'file' && !(e.linkKey && entries.find((x) => x.linkKey === e.linkKey) !== e) ? e.size : 0), 0);
  const ours = join(WORK, 'ours.img');
  const theirs = join(WORK, 'mkfs-d.img');
  const empty = join(WORK, 'empty.img');
  const o: number[] = [];
  const m: number[] = [];
  const z: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    z.push(mkfs(empty));
    m.push(mkfs(theirs, root));
    mkfs(ours);
    o.push(writeTree(ours, root, entries));
  }
  const fsck = e2fsck(ours);
  if (fsck.code !== 0) throw new Error(`e2fsck -fn on our image:\n${fsck.output}`);
  const skip = (p: string) => p === 'lost+found';
  const a = Filesystem.open(theirs, { readOnly: true, log: quiet });
  const b = Filesystem.open(ours, { readOnly: true, log: quiet });
  const diff = diffSnapshots(snapshotFs(a, 2, { skip }), snapshotFs(b, 2, { skip }), 'mkfs -d', 'ours', 10);
  a.close();
  b.close();
  if (diff.length) console.error(`${root}: trees differ:\n${diff.join('\n')}`);
  rmSync(empty, { force: true });
  return {
    tree: root, entries: entries.length, files, dirs: entries.filter((e) => e.kind === 'dir').length,
    symlinks: entries.filter((e) => e.kind === 'symlink').length, bytes,
    oursMs: median(o), mkfsDMs: median(m), mkfsEmptyMs: median(z), identical: diff.length === 0,
  };
}

function main(): void {
  const trees = process.argv.slice(2);
  if (trees.length === 0) trees.push(DEMO, SRC);
  mkdirSync(WORK, { recursive: true });
  const rows = trees.map(bench);
  if (JSON_OUT) {
    for (const r of rows) console.log(JSON.stringify(r));
    return;
  }
  const f1 = (x: number) => x.toFixed(1);
  const rate = (n: number, ms: number) => (ms > 0 ? Math.round(n / (ms / 1000)).toLocaleString('en-US') : '-');
  const mbs = (bytes: number, ms: number) => (ms > 0 ? f1(bytes / 2 ** 20 / (ms / 1000)) : '-');
  console.log(`write-tree: ${RUNS} run(s), median; ${SIZE} ext4 images (4 KiB blocks, mkfs.ext4 defaults); node ${process.version}; ${cpus()[0]?.model ?? ''}`);
  console.log('| tree | entries (files/dirs/symlinks) | MiB | ours ms | ours files/s | ours MB/s | mkfs -d ms | net of empty mkfs ms | mkfs -d files/s (net) | mkfs -d MB/s (net) | same tree |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const net = Math.max(0, r.mkfsDMs - r.mkfsEmptyMs);
    const name = r.tree === DEMO ? 'demo (test/images/tree/demo)' : r.tree;
    const netRate = net >= 10; // below that it is noise
    console.log(`| ${name} | ${r.entries} (${r.files}/${r.dirs}/${r.symlinks}) | ${f1(r.bytes / 2 ** 20)} | ${Math.round(r.oursMs)} | ${rate(r.entries, r.oursMs)} | ${mbs(r.bytes, r.oursMs)} | ${Math.round(r.mkfsDMs)} | ${Math.round(net)} | ${netRate ? rate(r.entries, net) : '-'} | ${netRate ? mbs(r.bytes, net) : '-'} | ${r.identical ? 'yes' : 'NO'} |`);
  }
  rmSync(WORK, { recursive: true, force: true });
}

main();
