// Path resolution over the read API (used by the CLI; the FUSE bridge works by inode).
import { Errno } from '../util/errno.js';
import { lookup } from './dir.js';
import { readLink } from './file.js';
import { ROOT_INO } from './layout/inode.js';
import type { Volume } from './volume.js';

const MAX_SYMLINKS = 40;
const enc = new TextEncoder();

/**
 * Resolve an absolute or root-relative path to an inode number (or -errno).
 * Symlinks in the middle are followed; the last component is followed only
 * when `followLast` is set. "." and ".." are looked up on disk.
 */
export function resolvePath(vol: Volume, path: string, followLast = false): number {
  let parts = path.split('/').filter((p) => p.length > 0);
  let cur = ROOT_INO;
  let links = 0;
  const stack: number[] = [];
  while (parts.length > 0) {
    const name = parts.shift()!;
    const dir = vol.inodes.get(cur);
    if (!dir.isDir) return -Errno.ENOTDIR;
    const ino = lookup(vol, dir, enc.encode(name));
    if (ino < 0) return ino;
    const inode = vol.inodes.get(ino);
    if (inode.isSymlink && (parts.length > 0 || followLast)) {
      if (++links > MAX_SYMLINKS) return -Errno.ELOOP;
      const target = readLink(vol, inode);
      if (typeof target === 'number') return target;
      const t = new TextDecoder().decode(target);
      const tparts = t.split('/').filter((p) => p.length > 0);
      if (t.startsWith('/')) cur = ROOT_INO;
      parts = [...tparts, ...parts];
      continue;
    }
    stack.push(cur);
    cur = ino;
  }
  return cur;
}
