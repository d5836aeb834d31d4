// Loop-mounting an image with the kernel's own ext4 driver: the oracle for
// tests that compare what we read with what Linux reads. Needs root, mount(8)
// and loop devices; canLoopMount() says whether this machine has them (set
// FUSE4FS_NO_LOOP=1 to pretend it does not).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findTool } from './tools.js';

let canMount: boolean | undefined;

export function canLoopMount(): boolean {
  if (canMount !== undefined) return canMount;
  canMount = false;
  if (process.env.FUSE4FS_NO_LOOP === '1') return canMount;
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return canMount;
  if (!findTool('mount') || !findTool('umount') || !findTool('losetup')) return canMount;
  if (!existsSync('/dev/loop-control')) return canMount;
  // a free loop device must be findable (containers often have none)
  const r = spawnSync(findTool('losetup')!, ['-f'], { encoding: 'utf8' });
  canMount = r.status === 0;
  return canMount;
}

export interface LoopMountOptions {
  /** read-only (default true) */
  ro?: boolean;
  /**
   * Skip journal replay (`noload`). Default: on for read-only mounts of images
   * with has_journal, so that mounting never writes to the image.
   */
  noload?: boolean;
  /** more -o options, e.g. ["user_xattr"] */
  options?: string[];
  /** -t TYPE (default: let mount probe) */
  type?: string;
}

/** True when the image's superblock has the has_journal compat feature. */
export function imageHasJournal(imagePath: string): boolean {
  const fd = openSync(imagePath, 'r');
  try {
    const sb = Buffer.alloc(1024);
    readSync(fd, sb, 0, 1024, 1024);
    if (sb.readUInt16LE(0x38) !== 0xef53) return false; // not ext2/3/4
    return (sb.readUInt32LE(0x5c) & 0x4) !== 0; // s_feature_compat & HAS_JOURNAL
  } finally {
    closeSync(fd);
  }
}

function run(cmd: string, args: string[]): { code: number; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { code: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

async function unmount(dir: string): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = run('umount', [dir]);
    if (r.code === 0) return;
    last = r.output;
    if (!/busy/i.test(r.output)) break;
    await sleep(50 * (attempt + 1));
  }
  const lazy = run('umount', ['-l', dir]);
  if (lazy.code !== 0) throw new Error(`umount ${dir} failed: ${last}; umount -l: ${lazy.output}`);
}

/**
 * Mounts the image with `mount -o loop,ro[,noload]` on a fresh temp dir, runs
 * fn(mountDir), and always unmounts (retrying, then `umount -l`, while busy)
 * and removes the dir. Returns what fn returns.
 */
export async function withLoopMount<T>(
  imagePath: string,
  fn: (mountDir: string) => T | Promise<T>,
  opts: LoopMountOptions = {},
): Promise<T> {
  if (!canLoopMount()) throw new Error('loop mounts are not available here (need root, mount(8), loop devices)');
  const ro = opts.ro ?? true;
  const noload = opts.noload ?? (ro && imageHasJournal(imagePath));
  const options = ['loop', ro ? 'ro' : 'rw', ...(noload ? ['noload'] : []), ...(opts.options ?? [])];
  const dir = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-mnt-'));
  const args = ['-o', options.join(','), ...(opts.type ? ['-t', opts.type] : []), imagePath, dir];
  const m = run('mount', args);
  if (m.code !== 0) {
    rmdirSync(dir);
    throw new Error(`mount ${args.join(' ')} failed (${m.code}): ${m.output}`);
  }
  try {
    return await fn(dir);
  } finally {
    try {
      await unmount(dir);
    } finally {
      try {
        rmdirSync(dir);
      } catch {
        // still mounted lazily: leave the empty dir rather than hide the real error
      }
    }
  }
}
