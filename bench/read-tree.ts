// Whole-tree read benchmark: our library against the kernel's ext4 driver.
//
//   node --import tsx bench/read-tree.ts [IMAGE ...]
//
// Without arguments: the demo image (test/images/demo.ext4) and a larger image
// made here once and cached: `mkfs.ext4 -d $BENCH_SRC` (default /usr/include)
// into a $BENCH_SIZE (default 512M) image under /tmp/fuse4fs-ts-bench/.
//
// Ours: Volume.open(path) + walkTree (readDir, lookup of every name,
// readFileRange in 1 MiB chunks, readLink, listXattrs + values), no hashing.
// Kernel: a read-only loop mount walked by a comparable synchronous Node walker
// (readdirSync + lstatSync + openSync/readSync in 1 MiB chunks + readlinkSync).
// Cold runs drop the page cache first (`echo 3 > /proc/sys/vm/drop_caches`, root
// only) and, for ours, open a fresh Volume (empty block cache); warm runs repeat
// over warm caches (ours: a fresh Volume over a warm page cache, and "hot": the
// same Volume again). Each number is the median of BENCH_RUNS (default 3) runs.
// Set BENCH_JSON=1 for one JSON line per measurement.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Volume } from '../src/ext2/volume.js';
import { imagePath } from '../test/helpers/images.js';
import { canLoopMount, withLoopMount } from '../test/helpers/kernel.js';
import { walkTree } from '../test/helpers/walk.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SRC = process.env.BENCH_SRC ?? '/usr/include';
const SIZE = process.env.BENCH_SIZE ?? '512M';
const CACHE_DIR = '/tmp/fuse4fs-ts-bench';
const JSON_OUT = process.env.BENCH_JSON === '1';

interface Sample {
  /** Inodes visited: files, directories, symlinks, others. */
  files: number;
  bytes: number;
  ms: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function canDropCaches(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

function dropCaches(): void {
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** The generated image, made once (mkfs.ext4 -d SRC) and reused. */
function generatedImage(): string {
  const name = `${SRC.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}-${SIZE}.ext4`;
  const out = join(CACHE_DIR, name);
  if (existsSync(out)) return out;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  console.error(`making ${out} from ${SRC} (cached for later runs)...`);
  const r = spawnSync('mkfs.ext4', ['-q', '-F', '-L', 'bench', '-b', '4096', '-d', SRC, tmp, SIZE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.ext4 -d ${SRC} failed: ${r.stderr || r.error}`);
  renameSync(tmp, out);
  return out;
}

/** Our library: open (fresh block cache) and walk. */
function ours(image: string, vol?: Volume): { sample: Sample; vol: Volume } {
  const t0 = performance.now();
  const v = vol ?? Volume.open(image, { readOnly: true, noRecovery: true });
  const s = walkTree(v, { hash: false });
  const ms = performance.now() - t0;
  return { sample: { files: s.inodes, bytes: s.bytes, ms }, vol: v };
}

/** The kernel: a synchronous walker over the mounted tree. */
function kernelWalk(root: string): Sample {
  const buf = new Uint8Array(1 << 20);
  let files = 0;
  let bytes = 0;
  const t0 = performance.now();
  const queue = [root];
  const seen = new Set<number>([lstatSync(root).ino]); // like walkTree: each inode once (hard links)
  files++;
  while (queue.length > 0) {
    const dir = queue.shift()!;
    for (const name of readdirSync(dir)) {
      const p = `${dir}/${name}`;
      const st = lstatSync(p);
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      files++;
      if (st.isDirectory()) {
        queue.push(p);
      } else if (st.isFile()) {
        const fd = openSync(p, 'r');
        try {
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, null);
            if (n <= 0) break;
            bytes += n;
          }
        } finally {
          closeSync(fd);
        }
      } else if (st.isSymbolicLink()) {
        bytes += Buffer.byteLength(readlinkSync(p, 'buffer'));
      }
    }
  }
  return { files, bytes, ms: performance.now() - t0 };
}

interface Row {
  image: string;
  who: 'ours' | 'kernel';
  cache: 'cold' | 'warm' | 'hot';
  files: number;
  mb: number;
  ms: number;
  filesPerSec: number;
  mbPerSec: number;
}

function row(image: string, who: Row['who'], cache: Row['cache'], samples: Sample[]): Row {
  const ms = median(samples.map((s) => s.ms));
  const { files, bytes } = samples[0]!;
  const r: Row = {
    image, who, cache, files, mb: bytes / 1e6, ms,
    filesPerSec: files / (ms / 1000), mbPerSec: bytes / 1e6 / (ms / 1000),
  };
  if (JSON_OUT) console.log(JSON.stringify(r));
  return r;
}

async function benchImage(image: string, drop: boolean): Promise<Row[]> {
  const label = image.split('/').pop()!;
  const rows: Row[] = [];
  ours(image).vol.close(); // warm the JIT, so the first timed run measures I/O, not compilation
  // Ours, cold: empty page cache and a fresh Volume each run.
  if (drop) {
    const cold: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      dropCaches();
      const { sample, vol } = ours(image);
      vol.close();
      cold.push(sample);
    }
    rows.push(row(label, 'ours', 'cold', cold));
  }
  // Ours, warm: the page cache holds the image; a fresh Volume (our cache empty).
  ours(image).vol.close();
  const warm: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { sample, vol } = ours(image);
    vol.close();
    warm.push(sample);
  }
  rows.push(row(label, 'ours', 'warm', warm));
  // Ours, hot: the same Volume again (our block and inode caches warm too).
  {
    const first = ours(image);
    const hot: Sample[] = [];
    for (let i = 0; i < RUNS; i++) hot.push(ours(image, first.vol).sample);
    first.vol.close();
    rows.push(row(label, 'ours', 'hot', hot));
  }
  if (!canLoopMount()) {
    console.error('kernel: loop mounts not available here (need root and loop devices); skipped');
    return rows;
  }
  // The kernel: cold runs remount (fresh dentry/inode caches) after dropping caches.
  if (drop) {
    const cold: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      cold.push(await withLoopMount(image, (dir) => { dropCaches(); return kernelWalk(dir); }));
    }
    rows.push(row(label, 'kernel', 'cold', cold));
  }
  const kwarm = await withLoopMount(image, (dir) => {
    kernelWalk(dir);
    const out: Sample[] = [];
    for (let i = 0; i < RUNS; i++) out.push(kernelWalk(dir));
    return out;
  });
  rows.push(row(label, 'kernel', 'warm', kwarm));
  return rows;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const images = process.argv.slice(2);
  if (images.length === 0) images.push(imagePath('demo.ext4'), generatedImage());
  for (const img of images) if (!statSync(img).isFile()) throw new Error(`${img} is not a file`);
  const drop = canDropCaches();
  if (!drop) console.error('cannot write /proc/sys/vm/drop_caches (not root?): cold runs skipped');
  const all: Row[] = [];
  for (const img of images) all.push(...(await benchImage(img, drop)));

  console.log(`\n${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; median of ${RUNS} runs\n`);
  console.log('| image | reader | cache | inodes | MB | ms | files/s | MB/s | ours/kernel (files/s) |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of all) {
    const k = all.find((x) => x.image === r.image && x.who === 'kernel' && x.cache === (r.cache === 'hot' ? 'warm' : r.cache));
    const ratio = r.who === 'ours' && k ? `${fmt(r.filesPerSec / k.filesPerSec, 2)}` : '';
    console.log(`| ${r.image} | ${r.who} | ${r.cache} | ${fmt(r.files)} | ${fmt(r.mb, 1)} | ${fmt(r.ms, 1)} | ${fmt(r.filesPerSec)} | ${fmt(r.mbPerSec, 1)} | ${ratio} |`);
  }
}

await main();
