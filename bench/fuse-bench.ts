// Side-by-side benchmark of the same workloads on the same machine in one run:
// the kernel's ext4 (loop mount), Debian's fuse2fs, and fuse4fs-ts (through the
// real CLI, test/helpers/mount.ts). Every workload starts from a fresh image
// made by `mkfs.ext4 -q -F -b 4096 IMG SIZE` (identical for the three targets).
//
//   meta     create 10k empty files in one directory; remount (and drop caches);
//            stat them all; unlink them all                        (seconds each)
//   untar    tar -x of a /usr/include archive (held in /dev/shm) + unmount until
//            the server has exited, i.e. everything is on the image   (seconds)
//   seq      dd 1 GiB bs=1M conv=fsync; unmount, drop caches, mount;
//            dd it back to /dev/null                                 (MiB/s)
//   rand     fio 4 KiB psync O_DIRECT random read, then random write, on a
//            256 MiB file, time-bounded                              (IOPS)
//
// Rounds interleave the targets; the table shows the medians. Ratios are
// speed ratios (> 1 means fuse4fs-ts is faster): for times other/ours, for
// rates ours/other. Needs root, /dev/fuse, loop devices, fuse2fs, fio, tar.
//
//   node --import tsx bench/fuse-bench.ts [--rounds N] [--only meta,untar,seq,rand]
//        [--targets kernel,fuse2fs,ours] [--files N] [--seq-mib N] [--fio-seconds N] [--json FILE]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertFsckClean, isMounted, mountSkipReason, startMount, type MountedImage } from '../test/helpers/mount.js';

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
}
const ROUNDS = Number(opt('rounds', '3'));
const ONLY = opt('only', 'meta,untar,seq,rand').split(',');
const TARGETS = opt('targets', 'kernel,fuse2fs,ours').split(',') as TargetName[];
const FILES = Number(opt('files', '10000'));
const SEQ_MIB = Number(opt('seq-mib', '1024'));
const FIO_SECONDS = Number(opt('fio-seconds', '15'));
const JSON_OUT = opt('json', '');

type TargetName = 'kernel' | 'fuse2fs' | 'ours';

const work = mkdtempSync(join(tmpdir(), 'fuse-bench-'));
process.once('exit', () => {
  if (!readFileSync('/proc/self/mountinfo', 'utf8').includes(work)) rmSync(work, { recursive: true, force: true });
});

function sh(cmd: string, args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 600_000, cwd: opts.cwd });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${(r.stderr || r.stdout).slice(-3000)}`);
  return r.stdout;
}

function dropCaches(): void {
  sh('sync', []);
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

// ------------------------------------------------------------------ targets

interface Mounted { mnt: string; unmount(): Promise<void> }

let imageCount = 0;
function freshImage(size: string): string {
  const img = join(work, `img-${++imageCount}.ext4`);
  sh('mkfs.ext4', ['-q', '-F', '-b', '4096', img, size]);
  return img;
}

function newMountpoint(): string {
  const m = join(work, `mnt-${++imageCount}`);
  mkdirSync(m);
  return m;
}

async function waitMounted(mnt: string, child: ChildProcess | null, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!isMounted(mnt)) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode} before mounting`);
    if (Date.now() > end) throw new Error(`${what}: no mount after 30 s`);
    await sleep(20);
  }
  statSync(mnt);
}

async function waitChild(child: ChildProcess, what: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not exit after unmount`)), 120_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(); else reject(new Error(`${what} exited ${code}`));
    });
  });
}

async function mountTarget(t: TargetName, img: string): Promise<Mounted> {
  if (t === 'kernel') {
    const mnt = newMountpoint();
    sh('mount', ['-t', 'ext4', '-o', 'loop', img, mnt]);
    return { mnt, unmount: async () => { sh('umount', [mnt]); } };
  }
  if (t === 'fuse2fs') {
    const mnt = newMountpoint();
    const child = spawn('fuse2fs', [img, mnt, '-f'], { stdio: 'ignore' });
    await waitMounted(mnt, child, 'fuse2fs');
    return { mnt, unmount: async () => { sh('umount', [mnt]); await waitChild(child, 'fuse2fs'); } };
  }
  const m: MountedImage = await startMount(img);
  return {
    mnt: m.mnt,
    unmount: async () => {
      const how = await m.unmount();
      const e = await m.waitExit(120_000);
      if (!e || e.code !== 0 || how) throw new Error(`fuse4fs-ts: unmount "${how}", exit ${JSON.stringify(e)}:\n${m.log()}`);
    },
  };
}

// ------------------------------------------------------------------ workloads

type Result = Record<string, number>;

async function meta(t: TargetName): Promise<Result> {
  const img = freshImage('1G');
  let m = await mountTarget(t, img);
  const dir = join(m.mnt, 'd');
  mkdirSync(dir);
  const names = Array.from({ length: FILES }, (_, i) => join(dir, `file-${i}`));
  let t0 = now();
  for (const n of names) closeSync(openSync(n, 'wx'));
  const create = now() - t0;
  await m.unmount();
  dropCaches();
  m = await mountTarget(t, img);
  const dir2 = join(m.mnt, 'd');
  const names2 = names.map((_, i) => join(dir2, `file-${i}`));
  t0 = now();
  for (const n of names2) statSync(n);
  const stat = now() - t0;
  t0 = now();
  for (const n of names2) unlinkSync(n);
  const unlink = now() - t0;
  await m.unmount();
  assertFsckClean(img, `${t} meta`);
  rmSync(img);
  const k = FILES >= 1000 ? `${FILES / 1000}k` : String(FILES);
  return { [`create ${k} (s)`]: create, [`stat ${k}, cold (s)`]: stat, [`unlink ${k} (s)`]: unlink };
}

let tarball = '';
function includeTarball(): string {
  if (tarball) return tarball;
  tarball = '/dev/shm/fuse-bench-include.tar';
  if (!existsSync(tarball)) sh('tar', ['-C', '/usr', '-cf', tarball, 'include']);
  process.once('exit', () => rmSync(tarball, { force: true }));
  return tarball;
}

async function untar(t: TargetName): Promise<Result> {
  const tar = includeTarball();
  const img = freshImage('1G');
  dropCaches();
  const m = await mountTarget(t, img);
  const t0 = now();
  sh('tar', ['-C', m.mnt, '-xf', tar]);
  const extract = now() - t0;
  await m.unmount();
  const total = now() - t0;
  assertFsckClean(img, `${t} untar`);
  rmSync(img);
  return { 'untar /usr/include (s)': total, '  of which tar -x (s)': extract };
}

async function seq(t: TargetName): Promise<Result> {
  const img = freshImage(`${SEQ_MIB * 2 + 512}M`);
  let m = await mountTarget(t, img);
  let t0 = now();
  sh('dd', ['if=/dev/zero', `of=${join(m.mnt, 'big')}`, 'bs=1M', `count=${SEQ_MIB}`, 'conv=fsync', 'status=none']);
  const write = now() - t0;
  await m.unmount();
  dropCaches();
  m = await mountTarget(t, img);
  t0 = now();
  sh('dd', [`if=${join(m.mnt, 'big')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
  const read = now() - t0;
  // again after a remount without dropping caches: the mount's own caches are
  // empty but the image file is in the host page cache (the server's speed)
  await m.unmount();
  m = await mountTarget(t, img);
  t0 = now();
  sh('dd', [`if=${join(m.mnt, 'big')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
  const reread = now() - t0;
  await m.unmount();
  assertFsckClean(img, `${t} seq`);
  rmSync(img);
  const size = SEQ_MIB % 1024 === 0 ? `${SEQ_MIB / 1024} GiB` : `${SEQ_MIB} MiB`;
  return {
    [`seq write ${size} (MiB/s)`]: SEQ_MIB / write,
    [`seq read ${size}, cold (MiB/s)`]: SEQ_MIB / read,
    [`seq read ${size}, image in page cache (MiB/s)`]: SEQ_MIB / reread,
  };
}

function fioIops(mnt: string, rw: 'randread' | 'randwrite'): number {
  const out = sh('fio', [
    '--name=bench', `--filename=${join(mnt, 'fio.dat')}`, '--size=256M', `--rw=${rw}`, '--bs=4k', '--ioengine=psync',
    '--direct=1', '--time_based', `--runtime=${FIO_SECONDS}`, '--ramp_time=2', '--output-format=json',
  ], { timeoutMs: (FIO_SECONDS + 120) * 1000 });
  const j = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Array<{ read: { iops: number }; write: { iops: number } }> };
  return rw === 'randread' ? j.jobs[0]!.read.iops : j.jobs[0]!.write.iops;
}

async function rand(t: TargetName): Promise<Result> {
  const img = freshImage('1G');
  const m = await mountTarget(t, img);
  // lay the file out first (written once, fsynced), so both runs see the same file
  sh('dd', ['if=/dev/urandom', `of=${join(m.mnt, 'fio.dat')}`, 'bs=1M', 'count=256', 'conv=fsync', 'status=none']);
  const r = fioIops(m.mnt, 'randread');
  const w = fioIops(m.mnt, 'randwrite');
  await m.unmount();
  assertFsckClean(img, `${t} rand`);
  rmSync(img);
  return { '4k rand read O_DIRECT (IOPS)': r, '4k rand write O_DIRECT (IOPS)': w };
}

const WORKLOADS: Record<string, (t: TargetName) => Promise<Result>> = { meta, untar, seq, rand };
/** Rows whose unit is a time (smaller is better). */
const isTime = (row: string) => row.includes('(s)');

// ------------------------------------------------------------------ main

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(v: number | undefined, row: string): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  if (isTime(row)) return v.toFixed(2);
  return v >= 100 ? Math.round(v).toString() : v.toFixed(1);
}

function ratio(ours: number | undefined, other: number | undefined, row: string): string {
  if (ours === undefined || other === undefined) return '-';
  const r = isTime(row) ? other / ours : ours / other;
  return `${r.toFixed(2)}×`;
}

async function main(): Promise<void> {
  const why = mountSkipReason();
  if (why) throw new Error(`cannot run: ${why}`);
  for (const tool of ['fuse2fs', 'fio', 'tar', 'dd', 'mkfs.ext4']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found (apt-get install -y fuse2fs fio tar e2fsprogs)`);
  }
  const samples = new Map<string, Map<TargetName, number[]>>();
  const started = new Date();
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.trim() ? ' + uncommitted changes in src/' : '';
  for (let round = 1; round <= ROUNDS; round++) {
    for (const w of ONLY) {
      // rotate the target order each round so no target always runs first
      const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length]!);
      for (const t of order) {
        process.stderr.write(`round ${round}/${ROUNDS} ${w} ${t} ... `);
        const r = await WORKLOADS[w]!(t);
        process.stderr.write(Object.entries(r).map(([k, v]) => `${k.trim()}=${fmt(v, k)}`).join(', ') + '\n');
        for (const [k, v] of Object.entries(r)) {
          if (!samples.has(k)) samples.set(k, new Map());
          const byT = samples.get(k)!;
          if (!byT.has(t)) byT.set(t, []);
          byT.get(t)!.push(v);
        }
      }
    }
  }
  const rows = [...samples.keys()];
  const med = (row: string, t: TargetName) => { const s = samples.get(row)?.get(t); return s?.length ? median(s) : undefined; };
  const lines = [
    `| workload | kernel ext4 | fuse2fs | fuse4fs-ts | ours vs fuse2fs | ours vs kernel |`,
    `|---|---:|---:|---:|---:|---:|`,
    ...rows.map((row) => `| ${row} | ${fmt(med(row, 'kernel'), row)} | ${fmt(med(row, 'fuse2fs'), row)} | ${fmt(med(row, 'ours'), row)} | ${ratio(med(row, 'ours'), med(row, 'fuse2fs'), row)} | ${ratio(med(row, 'ours'), med(row, 'kernel'), row)} |`),
  ];
  const fuse2fsVersion = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'fuse2fs'], { encoding: 'utf8' }).stdout.trim();
  const header = [
    `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${ROUNDS} rounds (medians), commit ${commit}${dirty}`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, kernel ${release()}, node ${process.version}, fuse2fs ${fuse2fsVersion}`,
    `ratios are speed ratios: > 1× means fuse4fs-ts is faster (times: other/ours; rates: ours/other)`,
  ];
  process.stdout.write(`${header.join('\n')}\n\n${lines.join('\n')}\n`);
  if (JSON_OUT) {
    const raw = Object.fromEntries(rows.map((r) => [r, Object.fromEntries(samples.get(r)!)]));
    writeFileSync(JSON_OUT, JSON.stringify({ header, table: lines, samples: raw }, null, 2) + '\n');
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`\nfuse-bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
