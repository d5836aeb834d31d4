// Fixtures for write-path tests: real inodes to point directory entries at,
// new directories, and the three oracles for a directory's names (our reader,
// debugfs, the kernel through a loop mount).
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { Volume } from '../../src/ext2/volume.js';
import type { Handle } from '../../src/ext2/txn.js';
import type { Inode } from '../../src/ext2/inode.js';
import { readDir } from '../../src/ext2/dir.js';
import { initBlockMap, unmapRange } from '../../src/ext2/bmap-write.js';
import { addEntry, initDirBlock } from '../../src/ext2/dir-write.js';
import { FT } from '../../src/ext2/layout/dirent.js';
import { S_IFDIR, S_IFREG } from '../../src/ext2/layout/inode.js';
import { debugfs } from './tools.js';
import { withLoopMount } from './kernel.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export const bytes = (s: string): Uint8Array => enc.encode(s);

/** Open an image read-write, run fn inside one handle, commit and close. */
export function withVolume<T>(image: string, fn: (vol: Volume, h: Handle) => T): T {
  const vol = Volume.open(image, { readOnly: false });
  try {
    const h = vol.txn.begin();
    let out: T;
    try {
      out = fn(vol, h);
    } finally {
      vol.txn.end(h);
    }
    vol.sync();
    return out;
  } finally {
    vol.close();
  }
}

/**
 * A fresh inode near `parentIno`: zeroed, the volume's extra_isize, mode, one
 * link (two for directories), times now, an empty block map (extent root where
 * the filesystem has extents). Written to the table.
 */
export function newInode(vol: Volume, h: Handle, parentIno: number, mode: number): Inode {
  const isDir = (mode & 0o170000) === S_IFDIR;
  const ino = vol.alloc.allocInode(h, parentIno, isDir);
  if (ino < 0) throw new Error(`allocInode: ${ino}`);
  const inode = vol.inodes.get(ino);
  inode.bytes.fill(0, 0, vol.geo.inodeSize);
  if (vol.geo.inodeSize > 128) inode.raw.i_extra_isize = Math.min(vol.sb.s_want_extra_isize || 32, vol.geo.inodeSize - 128);
  inode.mode = mode;
  inode.linksCount = isDir ? 2 : 1;
  const now = { sec: Math.floor(Date.now() / 1000), nsec: 0 };
  for (const t of ['atime', 'mtime', 'ctime', 'crtime'] as const) inode.setTime(t, now);
  initBlockMap(vol, inode);
  vol.writeInode(h, inode);
  return inode;
}

/** A regular file inode (not linked anywhere yet). */
export function newFile(vol: Volume, h: Handle, parentIno: number): Inode {
  return newInode(vol, h, parentIno, S_IFREG | 0o644);
}

/** mkdir: a new directory linked into `parent` as `name` (parent's link count +1). */
export function makeDir(vol: Volume, h: Handle, parent: Inode, name: string): Inode {
  const dir = newInode(vol, h, parent.ino, S_IFDIR | 0o755);
  const r = initDirBlock(vol, h, dir, parent.ino);
  if (r !== 0) throw new Error(`initDirBlock: ${r}`);
  const a = addEntry(vol, h, parent, bytes(name), dir.ino, FT.DIR);
  if (a !== 0) throw new Error(`addEntry ${name}: ${a}`);
  parent.linksCount = parent.linksCount + 1;
  vol.writeInode(h, parent);
  return dir;
}

export function setLinks(vol: Volume, h: Handle, inode: Inode, n: number): void {
  inode.linksCount = n;
  vol.writeInode(h, inode);
}

/** Free an inode that no name points at any more (blocks, bitmap, dtime). */
export function releaseInode(vol: Volume, h: Handle, inode: Inode): void {
  const isDir = inode.isDir;
  unmapRange(vol, h, inode, 0, Infinity);
  inode.linksCount = 0;
  inode.size = 0;
  inode.dtime = Math.floor(Date.now() / 1000);
  vol.writeInode(h, inode);
  vol.alloc.freeInode(h, inode.ino, isDir);
}

/** Names in a directory through our reader (without "." and ".."), with their inode numbers. */
export function ourEntries(vol: Volume, dir: Inode): Map<string, number> {
  const out = new Map<string, number>();
  readDir(vol, dir, 0, (ino, name) => {
    const s = dec.decode(name);
    if (s !== '.' && s !== '..') {
      if (out.has(s)) throw new Error(`readDir: ${s} listed twice`);
      out.set(s, ino);
    }
    return true;
  });
  return out;
}

/** Names in a directory as `debugfs -R "ls -l PATH"` lists them (without "." and ".."), with inode numbers. */
export function debugfsEntries(image: string, path: string): Map<string, number> {
  const out = new Map<string, number>();
  const text = debugfs(image, `ls -l ${path}`);
  for (const line of text.split('\n')) {
    // " 12   100644 (1)      0      0       0 26-Feb-2025 10:00 name"
    const m = /^\s*(\d+)\s+\d+\s+\(\d+\)\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+\s(.+)$/.exec(line);
    if (!m) continue;
    const name = m[2]!;
    if (name === '.' || name === '..') continue;
    out.set(name, Number(m[1]));
  }
  return out;
}

/**
 * Names in a directory as the kernel lists them (`ls -f`, no sorting), without
 * "." and "..", and the inode numbers the kernel's lookup (stat) finds for
 * `statNames` — each one a lookup through the directory's index.
 */
export async function kernelNames(image: string, path: string, statNames: Iterable<string> = []): Promise<string[]> {
  const { names } = await kernelView(image, path, statNames);
  return names;
}

export async function kernelView(image: string, path: string, statNames: Iterable<string> = []): Promise<{ names: string[]; inos: Map<string, number> }> {
  return withLoopMount(image, (mnt) => {
    const text = execFileSync('ls', ['-f', join(mnt, path)], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const names = text.split('\n').filter((n) => n !== '' && n !== '.' && n !== '..');
    const inos = new Map<string, number>();
    for (const n of statNames) inos.set(n, lstatSync(join(mnt, path, n)).ino);
    return { names, inos };
  });
}
