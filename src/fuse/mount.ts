// Mounting and unmounting. As root: open /dev/fuse and run
//   mount -i -t fuse.fuse4fs-ts -o fd=3,rootmode=40000,user_id=U,group_id=G,... SOURCE MNT
// with the fd as the child's stdio[3] (-i keeps mount(8) from running a
// mount.fuse helper). mount(8) exits before INIT is answered; the reader
// retries EPERM until the fd is attached. Non-root: fusermount3 (fusermount.ts).
// Unmount: `umount` (root) or `fusermount3 -u`, spawned asynchronously; the
// reader then sees ENODEV. shared/notes/fuse-kernel-protocol.md §3a, §3b.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { FUSE_MAX_MAX_PAGES, PAGE_SIZE } from './abi-consts.js';
import { checkMountpoint } from './mountpoint.js';

export const FS_TYPE = 'fuse.fuse4fs-ts';

export interface MountOptions {
  /** Shown as the source in /proc/mounts. Default 'fuse4fs-ts'. */
  source?: string;
  allowOther?: boolean;
  /** Kernel permission checks from mode bits. Default true. */
  defaultPermissions?: boolean;
  readOnly?: boolean;
  /** Allow a non-empty mountpoint. */
  nonempty?: boolean;
  /** Honour suid bits / device nodes (default false: nosuid,nodev). */
  suid?: boolean;
  dev?: boolean;
  /** max_read mount option, bytes. */
  maxRead?: number;
  /** Extra raw options appended to -o. */
  extra?: string[];
  /** 'auto' (default): mount(8) as root, fusermount3 otherwise. */
  method?: 'auto' | 'mount' | 'fusermount';
}

export interface Mounted {
  fd: number;
  mountpoint: string;
}

/** /proc/sys/fs/fuse/max_pages_limit (256 if unreadable). */
export function maxPagesLimit(): number {
  try {
    const v = parseInt(readFileSync('/proc/sys/fs/fuse/max_pages_limit', 'utf8'), 10);
    return v > 0 ? v : FUSE_MAX_MAX_PAGES;
  } catch {
    return FUSE_MAX_MAX_PAGES;
  }
}

/** The -o string given to mount(8) / fusermount3 (without fd= for fusermount3). */
export function mountOptionString(o: MountOptions, withFd: boolean): string {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const parts: string[] = [];
  if (withFd) parts.push('fd=3');
  parts.push('rootmode=40000', `user_id=${uid}`, `group_id=${gid}`);
  if (o.defaultPermissions !== false) parts.push('default_permissions');
  if (o.allowOther) parts.push('allow_other');
  parts.push(`max_read=${o.maxRead ?? FUSE_MAX_MAX_PAGES * PAGE_SIZE}`);
  if (!o.suid) parts.push('nosuid');
  if (!o.dev) parts.push('nodev');
  if (o.readOnly) parts.push('ro');
  if (o.extra) parts.push(...o.extra);
  return parts.join(',');
}

export interface RunResult {
  code: number;
  stderr: string;
}

/** Spawn a command asynchronously (never spawnSync: the mount may need our own event loop). */
export function run(cmd: string, args: string[], extraFd?: number): Promise<RunResult> {
  return new Promise((resolveP) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe'];
    if (extraFd !== undefined) stdio.push(extraFd);
    const child = spawn(cmd, args, { stdio });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => { stderr += s; });
    child.on('error', (e) => resolveP({ code: 127, stderr: `${cmd}: ${e.message}` }));
    child.on('close', (code) => resolveP({ code: code ?? 1, stderr: stderr.trim() }));
  });
}

/** Mount as root through mount(8). Throws an Error with one clear line on failure. */
export async function mountRoot(mountpoint: string, o: MountOptions = {}): Promise<Mounted> {
  const bad = checkMountpoint(mountpoint, o.nonempty);
  if (bad) throw new Error(bad);
  let fd: number;
  try {
    fd = openSync('/dev/fuse', 'r+');
  } catch (e) {
    throw new Error(`cannot open /dev/fuse: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const args = ['-i', '-t', FS_TYPE, '-o', mountOptionString(o, true), o.source ?? 'fuse4fs-ts', mountpoint];
  const r = await run('mount', args, fd);
  if (r.code !== 0) {
    closeSync(fd);
    throw new Error(`mount failed (exit ${r.code}): ${r.stderr || 'no message'}`);
  }
  return { fd, mountpoint };
}

/** Mount as root, or through fusermount3 otherwise. */
export async function mountFuse(mountpoint: string, o: MountOptions = {}): Promise<Mounted> {
  const method = o.method ?? 'auto';
  if (method === 'mount' || (method === 'auto' && (process.getuid?.() ?? 0) === 0)) return mountRoot(mountpoint, o);
  const { mountFusermount } = await import('./fusermount.js');
  return mountFusermount(mountpoint, o);
}

/** Unmount; `lazy` detaches even when busy. Throws one line on failure. */
export async function unmountFuse(mountpoint: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const root = (process.getuid?.() ?? 0) === 0;
  const r = root
    ? await run('umount', opts.lazy ? ['-l', mountpoint] : [mountpoint])
    : await run('fusermount3', opts.lazy ? ['-u', '-z', mountpoint] : ['-u', mountpoint]);
  if (r.code !== 0) throw new Error(`unmount of ${mountpoint} failed: ${r.stderr || `exit ${r.code}`}`);
}
