// `ls`, `cat` and `tree`: looking at files in an image without mounting it.
// Names are written as the bytes stored (ls, tree) and sorted by those bytes.
import { readDir } from '../ext2/dir.js';
import { readFileRange, readLink } from '../ext2/file.js';
import type { Inode } from '../ext2/inode.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../ext2/layout/inode.js';
import type { Volume } from '../ext2/volume.js';
import { CliError, Out, jsonName, openImage, printJson, resolveOrFail, writeOut, type ImageOptions } from './common.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket' | 'unknown';

export function entryType(mode: number): EntryType {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'directory';
    case S_IFLNK: return 'symlink';
    case S_IFCHR: return 'chardev';
    case S_IFBLK: return 'blockdev';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'socket';
    default: return 'unknown';
  }
}

/** `ls -l` mode string: type letter and rwx with s/S/t/T. */
export function modeString(mode: number): string {
  const t = { file: '-', directory: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's', unknown: '?' }[entryType(mode)];
  const trip = (r: number, w: number, x: number, special: boolean, ch: string) =>
    `${mode & r ? 'r' : '-'}${mode & w ? 'w' : '-'}${special ? (mode & x ? ch : ch.toUpperCase()) : mode & x ? 'x' : '-'}`;
  return t + trip(0o400, 0o200, 0o100, (mode & 0o4000) !== 0, 's') + trip(0o040, 0o020, 0o010, (mode & 0o2000) !== 0, 's') +
    trip(0o004, 0o002, 0o001, (mode & 0o1000) !== 0, 't');
}

function linkTarget(vol: Volume, inode: Inode): Uint8Array | null {
  const t = readLink(vol, inode);
  return typeof t === 'number' ? null : t;
}

/** Facts about one inode, for `ls --json` and `tree --json`. */
export function statJson(vol: Volume, ino: number, inode: Inode): Record<string, unknown> {
  const type = entryType(inode.mode);
  const mtime = inode.getTime('mtime');
  const out: Record<string, unknown> = {
    ino, type, mode: `0${(inode.mode & 0o7777).toString(8).padStart(3, '0')}`, uid: inode.uid, gid: inode.gid,
    size: inode.size, links: inode.linksCount, mtime: { sec: mtime.sec, nsec: mtime.nsec },
  };
  if (type === 'symlink') {
    const t = linkTarget(vol, inode);
    if (t) { const j = jsonName(t); out.target = j.name; if (j.nameHex) out.targetHex = j.nameHex; }
  }
  if (type === 'chardev' || type === 'blockdev') out.rdev = inode.rdev;
  return out;
}

interface Entry { name: Uint8Array; ino: number }

/** A directory's entries (without "." and ".." unless asked), sorted by name bytes. */
export function listEntries(vol: Volume, dir: Inode, withDots: boolean, sort = true): Entry[] {
  const out: Entry[] = [];
  readDir(vol, dir, 0, (ino, name) => {
    const dot = (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
    if (withDots || !dot) out.push({ name: name.slice(), ino });
    return true;
  });
  if (sort) out.sort((a, b) => Buffer.compare(a.name, b.name));
  return out;
}

function baseName(path: string): Uint8Array {
  const parts = path.split('/').filter((p) => p.length > 0);
  return new TextEncoder().encode(parts.length ? parts[parts.length - 1]! : '/');
}

// ---------------------------------------------------------------- ls

export interface LsOptions extends ImageOptions {
  long?: boolean;
  all?: boolean;
  unsorted?: boolean;
  json?: boolean;
}

function fullTime(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return `@${sec}.${String(nsec).padStart(9, '0')}`;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const tz = `${off >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(nsec, 9)} ${tz}`;
}

export function runLs(image: string, path: string, opts: LsOptions): void {
  const vol = openImage(image, opts);
  try {
    let ino = resolveOrFail(vol, path, false);
    let inode = vol.inodes.get(ino);
    // Like GNU ls: a symlink named on the command line is followed when it leads to a directory (not with -l).
    if (inode.isSymlink && !opts.long) {
      const t = resolveOrFail(vol, path, true);
      if (vol.inodes.get(t).isDir) { ino = t; inode = vol.inodes.get(t); }
    }
    const entries: Entry[] = inode.isDir ? listEntries(vol, inode, opts.all === true, !opts.unsorted) : [{ name: baseName(path), ino }];
    if (opts.json) {
      printJson({
        path, ino, type: entryType(inode.mode),
        entries: entries.map((e) => ({ ...jsonName(e.name), ...statJson(vol, e.ino, vol.inodes.get(e.ino)) })),
      });
      return;
    }
    const out = new Out();
    if (!opts.long) {
      for (const e of entries) { out.bytes(e.name); out.text('\n'); }
      out.flush();
      return;
    }
    const rows = entries.map((e) => {
      const i = vol.inodes.get(e.ino);
      const type = entryType(i.mode);
      const size = type === 'chardev' || type === 'blockdev' ? `${i.rdev.major}, ${i.rdev.minor}` : String(i.size);
      const m = i.getTime('mtime');
      const target = type === 'symlink' ? linkTarget(vol, i) : null;
      return { mode: modeString(i.mode), links: String(i.linksCount), uid: String(i.uid), gid: String(i.gid), size, time: fullTime(m.sec, m.nsec), name: e.name, target };
    });
    const w = (k: 'links' | 'uid' | 'gid' | 'size') => Math.max(0, ...rows.map((r) => r[k].length));
    const wl = w('links'), wu = w('uid'), wg = w('gid'), ws = w('size');
    for (const r of rows) {
      out.text(`${r.mode} ${r.links.padStart(wl)} ${r.uid.padEnd(wu)} ${r.gid.padEnd(wg)} ${r.size.padStart(ws)} ${r.time} `);
      out.bytes(r.name);
      if (r.target) { out.text(' -> '); out.bytes(r.target); }
      out.text('\n');
    }
    out.flush();
  } finally {
    vol.close();
  }
}

// ---------------------------------------------------------------- cat

const CAT_CHUNK = 1 << 20;

export function runCat(image: string, path: string, opts: ImageOptions): void {
  const vol = openImage(image, opts);
  try {
    const ino = resolveOrFail(vol, path, true);
    const inode = vol.inodes.get(ino);
    if (inode.isDir) throw new CliError(`${path}: is a directory`);
    if (!inode.isReg) throw new CliError(`${path}: not a regular file (${entryType(inode.mode)})`);
    const size = inode.size;
    const buf = new Uint8Array(Math.min(CAT_CHUNK, Math.max(size, 1)));
    for (let pos = 0; pos < size;) {
      const n = readFileRange(vol, inode, pos, buf);
      if (n === 0) break;
      writeOut(n === buf.length ? buf : buf.subarray(0, n));
      pos += n;
    }
  } finally {
    vol.close();
  }
}

// ---------------------------------------------------------------- tree

export interface TreeOptions extends ImageOptions {
  json?: boolean;
  depth?: string;
}

interface TreeNode {
  name: Uint8Array;
  ino: number;
  inode: Inode;
  children?: TreeNode[];
  /** A directory already on the path from the root (damage): not descended. */
  loop?: boolean;
}

function buildTree(vol: Volume, name: Uint8Array, ino: number, depth: number, maxDepth: number, ancestors: Set<number>): TreeNode {
  const inode = vol.inodes.get(ino);
  const node: TreeNode = { name, ino, inode };
  if (!inode.isDir || depth >= maxDepth) return node;
  if (ancestors.has(ino)) { node.loop = true; return node; }
  ancestors.add(ino);
  node.children = listEntries(vol, inode, false).map((e) => buildTree(vol, e.name, e.ino, depth + 1, maxDepth, ancestors));
  ancestors.delete(ino);
  return node;
}

export function runTree(image: string, path: string, opts: TreeOptions): void {
  let maxDepth = Number.POSITIVE_INFINITY;
  if (opts.depth !== undefined) {
    if (!/^\d+$/.test(opts.depth)) throw new CliError(`--depth: not a number: ${opts.depth}`, 2);
    maxDepth = Number(opts.depth);
  }
  const vol = openImage(image, opts);
  try {
    const ino = resolveOrFail(vol, path, true);
    const root = buildTree(vol, new TextEncoder().encode(path), ino, 0, maxDepth, new Set());
    if (opts.json) {
      const toJson = (n: TreeNode): Record<string, unknown> => ({
        ...jsonName(n.name), ...statJson(vol, n.ino, n.inode),
        ...(n.loop ? { loop: true } : {}), ...(n.children ? { children: n.children.map(toJson) } : {}),
      });
      printJson(toJson(root));
      return;
    }
    const out = new Out();
    let dirs = 0;
    let files = 0;
    const label = (n: TreeNode) => {
      out.bytes(n.name);
      if (n.inode.isSymlink) {
        const t = linkTarget(vol, n.inode);
        if (t) { out.text(' -> '); out.bytes(t); }
      }
      if (n.loop) out.text('  [recursive, not followed]');
      out.text('\n');
    };
    const walk = (n: TreeNode, prefix: string) => {
      const kids = n.children ?? [];
      kids.forEach((k, i) => {
        const last = i === kids.length - 1;
        out.text(`${prefix}${last ? '└── ' : '├── '}`);
        label(k);
        if (k.inode.isDir) dirs++; else files++;
        walk(k, `${prefix}${last ? '    ' : '│   '}`);
      });
    };
    label(root);
    walk(root, '');
    out.text(`\n${dirs} director${dirs === 1 ? 'y' : 'ies'}, ${files} file${files === 1 ? '' : 's'}\n`);
    out.flush();
  } finally {
    vol.close();
  }
}
