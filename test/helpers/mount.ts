// Real FUSE mounts of an image through the real CLI, for the end-to-end tests
// (test/e2e/mount-*.test.ts) and the benchmark (bench/fuse-bench.ts).
//
// withMount(image, opts, fn) runs `fuse4fs-ts mount IMAGE MNT -f [-o ...]` as
// a child process, waits until MNT shows in /proc/self/mountinfo, runs fn(mnt),
// then always unmounts (umount(8), retried while busy, then `umount -l`),
// waits for the server to exit and asserts exit code 0, and finally asserts
// that `e2fsck -fn IMAGE` exits 0. That last check is the oracle: never skip
// or weaken it.
//
// Which CLI runs (FUSE4FS_E2E_CLI):
//   esbuild (default): src/ transpiled file by file with esbuild (which tsx
//                      brings) into tmp/mount-cli-<pid>/dist, next to a copy of
//                      bin/fuse4fs-ts: the real launcher and the real layout
//                      (worker.js, fs-module.js), built in < 1 s and private
//                      to this process, so a concurrent `npm run build` or a
//                      stale dist/ cannot interfere.
//   dist:              the checkout's own bin/fuse4fs-ts (run `npm run build` first).
//   tsx:               node --import tsx src/cli/main.ts (slowest start).
//
// The server's stdout and stderr go to a file, never a pipe: the test process
// runs spawnSync'd tools against the mount and would not drain a pipe.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { e2fsck, findTool, mke2fs } from './tools.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ------------------------------------------------------------------ environment

/** Why real mounts cannot run here, or null when they can. */
export function mountSkipReason(): string | null {
  if (process.platform !== 'linux') return 'FUSE mounts need Linux';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing';
  if ((process.getuid?.() ?? 1) !== 0) return 'not root (the tests mount through mount(8) as root)';
  for (const t of ['mount', 'umount', 'e2fsck', 'mke2fs']) {
    if (!findTool(t)) return `${t} not found (apt-get install -y mount e2fsprogs)`;
  }
  return null;
}

/** True when `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  return findTool(cmd) !== null;
}

// ------------------------------------------------------------------ the CLI

let cliArgv: string[] | undefined;
let scratch: string | undefined;

/** A private directory for this process (images, mountpoints), removed at exit. */
export function scratchDir(): string {
  if (scratch) return scratch;
  scratch = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-mount-'));
  process.once('exit', () => {
    // only what is not still mounted (a leaked mount must stay visible, not be rm -rf'd through)
    if (scratch && !readMountinfo().some((m) => m.startsWith(scratch!))) rmSync(scratch, { recursive: true, force: true });
  });
  return scratch;
}

/** node arguments that start `fuse4fs-ts` (before the subcommand). */
export function cliCommand(): string[] {
  if (cliArgv) return cliArgv;
  const mode = process.env.FUSE4FS_E2E_CLI ?? 'esbuild';
  if (mode === 'dist') {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('FUSE4FS_E2E_CLI=dist: run `npm run build` first');
    cliArgv = [join(ROOT, 'bin/fuse4fs-ts')];
  } else if (mode === 'tsx') {
    cliArgv = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
  } else if (mode === 'esbuild') {
    cliArgv = [buildPrivateCli()];
  } else {
    throw new Error(`FUSE4FS_E2E_CLI=${mode}: use esbuild, dist or tsx`);
  }
  return cliArgv;
}

function buildPrivateCli(): string {
  // Under ROOT so that node_modules and package.json ("type": "module") resolve.
  const dir = join(ROOT, 'tmp', `mount-cli-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const src = join(ROOT, 'src');
  const entryPoints = (readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(src, f));
  esbuild.buildSync({
    entryPoints, outbase: src, outdir: join(dir, 'dist'), bundle: false, platform: 'node', format: 'esm',
    target: 'node20', sourcemap: 'inline', logLevel: 'error',
  });
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin/fuse4fs-ts'), join(dir, 'bin/fuse4fs-ts'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'bin/fuse4fs-ts');
}

/** Runs `fuse4fs-ts ARGS` to completion (for umount and error cases). */
export function runCli(args: string[], timeoutMs = 60_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliCommand(), ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// ------------------------------------------------------------------ mountinfo

/** Mount points (field 5 of /proc/self/mountinfo, octal escapes decoded). */
export function readMountinfo(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function isMounted(mnt: string): boolean {
  return readMountinfo().includes(mnt);
}

/** The mountinfo line of `mnt` (the top one when stacked), or undefined. */
export function mountinfoLine(mnt: string): string | undefined {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === mnt).pop();
}

// ------------------------------------------------------------------ images

export type FsType = 'ext2' | 'ext3' | 'ext4';

/**
 * A fresh image made by mke2fs in the scratch dir: `mke2fs -q -t TYPE -b 4096
 * [extra] IMG SIZE` (4 KiB blocks unless extra has -b; mke2fs would pick 1 KiB
 * for a "small" filesystem).
 */
export function makeImage(type: FsType, size = '256M', extra: string[] = []): string {
  const img = join(mkdtempSync(join(scratchDir(), `${type}-`)), `${type}.img`);
  const bs = extra.includes('-b') ? [] : ['-b', '4096'];
  mke2fs(['-q', '-t', type, ...bs, ...extra, img, size]);
  return img;
}

/** Asserts `e2fsck -fn IMAGE` exits 0 (clean). */
export function assertFsckClean(image: string, what = ''): void {
  const r = e2fsck(image, ['-fn']);
  assert.equal(r.code, 0, `e2fsck -fn ${image}${what ? ` (${what})` : ''} exited ${r.code}:\n${r.output}`);
}

// ------------------------------------------------------------------ mounts

export interface MountOptions {
  /** -o options, e.g. ['ro'] or ['acl', 'commit=1'] */
  options?: string[];
  /** mountpoint to use (default: a new empty dir in the scratch dir) */
  mountpoint?: string;
  /** run e2fsck -fn after the unmount (default true; off only for the SIGKILL test's own sequencing) */
  fsck?: boolean;
  /** ms to wait for the mount to appear (default 30 s) */
  mountTimeoutMs?: number;
  /** extra environment for the server */
  env?: Record<string, string>;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running server and its mount. */
export class MountedImage {
  private exitInfo: ServerExit | null = null;
  readonly exited: Promise<ServerExit>;

  constructor(
    readonly image: string,
    readonly mnt: string,
    readonly child: ChildProcess,
    private readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number { return this.child.pid!; }
  get hasExited(): boolean { return this.exitInfo !== null; }

  /** What the server wrote to stdout and stderr so far. */
  log(): string {
    try { return readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  /** Waits for the server to exit (at most ms), or null on timeout. */
  async waitExit(ms: number): Promise<ServerExit | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms); });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer); // a pending timer would keep the test process alive
    }
  }

  /**
   * umount(8), retried while busy, then `umount -l`; returns a description of
   * what it had to do ('' when the first clean umount worked).
   */
  async unmount(): Promise<string> {
    let last = '';
    for (let attempt = 0; attempt < 8 && isMounted(this.mnt); attempt++) {
      const r = spawnSync('umount', [this.mnt], { encoding: 'utf8', timeout: 60_000 });
      if (r.status === 0) return attempt === 0 ? '' : `umount needed ${attempt + 1} attempts (${last})`;
      last = `${r.stderr ?? ''}${r.error?.message ?? ''}`.trim();
      if (!/busy/i.test(last)) break;
      await sleep(100 * (attempt + 1));
    }
    if (!isMounted(this.mnt)) return last ? `mount vanished (${last})` : '';
    const lazy = spawnSync('umount', ['-l', this.mnt], { encoding: 'utf8', timeout: 60_000 });
    if (lazy.status !== 0) throw new Error(`umount ${this.mnt}: ${last}; umount -l: ${lazy.stderr}`);
    return `umount failed (${last}); used umount -l`;
  }

  /** Kill the server and clear whatever mount it left (for cleanup paths). */
  async destroy(): Promise<void> {
    if (!this.hasExited) this.child.kill('SIGKILL');
    await this.waitExit(10_000);
    if (isMounted(this.mnt)) spawnSync('umount', ['-l', this.mnt]);
  }
}

/** Starts the server (`fuse4fs-ts mount IMAGE MNT -f`) and waits until MNT is a live mount. */
export async function startMount(image: string, opts: MountOptions = {}): Promise<MountedImage> {
  const mnt = opts.mountpoint ?? mkdtempSync(join(scratchDir(), 'mnt-'));
  if (isMounted(mnt)) throw new Error(`${mnt} is already a mount point`);
  const logFile = join(scratchDir(), `server-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
  const logFd = openSync(logFile, 'w');
  const args = [...cliCommand(), 'mount', image, mnt, '-f', ...(opts.options?.length ? ['-o', opts.options.join(',')] : [])];
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd], env: { ...process.env, ...opts.env } });
  } finally {
    closeSync(logFd);
  }
  const m = new MountedImage(image, mnt, child, logFile);
  const deadline = Date.now() + (opts.mountTimeoutMs ?? 30_000);
  while (!isMounted(mnt)) {
    if (m.hasExited) {
      const e = await m.exited;
      throw new Error(`fuse4fs-ts mount ${image} exited (code ${e.code}, signal ${e.signal}) before mounting:\n${m.log()}`);
    }
    if (Date.now() > deadline) {
      await m.destroy();
      throw new Error(`fuse4fs-ts mount ${image}: no mount after ${opts.mountTimeoutMs ?? 30_000} ms:\n${m.log()}`);
    }
    await sleep(20);
  }
  // The first request completes INIT (mount(2) returns before it is answered).
  statSync(mnt);
  return m;
}

/**
 * Unmounts, waits for the server (asserting exit 0), then asserts e2fsck -fn
 * is clean unless opts.fsck === false.
 */
export async function finishMount(m: MountedImage, opts: MountOptions = {}): Promise<void> {
  const how = await m.unmount();
  const exit = await m.waitExit(60_000);
  if (exit === null) {
    await m.destroy();
    assert.fail(`server for ${m.image} did not exit within 60 s of the unmount (${how}):\n${m.log()}`);
  }
  assert.deepEqual(exit, { code: 0, signal: null }, `server for ${m.image} exited badly after unmount (${how}):\n${m.log()}`);
  assert.ok(!how.includes('umount -l'), `unmount of ${m.mnt} was not clean: ${how}`);
  if (opts.fsck !== false) assertFsckClean(m.image, `after unmount of ${m.mnt}`);
  try { rmdirSync(m.mnt); } catch { /* a caller-supplied or reused mountpoint */ }
}

/**
 * Mounts `image`, runs fn(mnt), and always unmounts. When fn succeeds the
 * server must exit 0 and e2fsck -fn must be clean; when fn throws, its error
 * wins (the server log is appended) but the unmount still happens.
 */
export async function withMount<T>(image: string, opts: MountOptions, fn: (mnt: string, m: MountedImage) => T | Promise<T>): Promise<T> {
  const m = await startMount(image, opts);
  let result: T;
  try {
    result = await fn(m.mnt, m);
  } catch (e) {
    try {
      await m.unmount();
      if ((await m.waitExit(30_000)) === null) await m.destroy();
    } catch {
      await m.destroy();
    }
    if (e instanceof Error) e.message += `\n--- server log (${m.image}) ---\n${m.log().slice(-4000)}`;
    throw e;
  }
  await finishMount(m, opts);
  return result;
}

// ------------------------------------------------------------------ small tools

export interface ShResult { code: number; stdout: string; stderr: string }

/** Runs a command (no shell) and returns its outcome; never throws on non-zero. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): ShResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd, input: opts.input, encoding: 'utf8', maxBuffer: 256 << 20, timeout: opts.timeoutMs ?? 300_000,
    env: { ...process.env, LC_ALL: 'C', ...opts.env },
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs a command and returns stdout; throws with its stderr on a non-zero exit. */
export function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${(r.stderr || r.stdout).slice(-4000)}`);
  return r.stdout;
}

/** Runs `bash -c SCRIPT` (set -euo pipefail) and returns stdout; throws on failure. */
export function bash(script: string, opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): string {
  return sh('bash', ['-c', `set -euo pipefail\n${script}`], opts);
}

/** statfs free blocks and free inodes (`stat -f -c '%f %d'`). */
export function statfsFree(path: string): { blocks: number; inodes: number } {
  const [blocks, inodes] = sh('stat', ['-f', '-c', '%f %d', path]).trim().split(' ').map(Number) as [number, number];
  return { blocks, inodes };
}

/** Python 3 interpreter to run small syscall helpers (O_TMPFILE, SEEK_HOLE), or null. */
export function python3(): string | null {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) if (existsSync(p)) return p;
  return findTool('python3');
}
