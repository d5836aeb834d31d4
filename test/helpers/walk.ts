// A whole-tree read workload over the ext2 read API: every inode reachable from
// the root, through readDir, lookup of each name, readFileRange of whole files
// in chunks, readLink, listXattrs + xattrValue. Used as the oracle-free workload
// of the corruption and fuzz tests (every outcome must be a result or a typed
// error) and as the library side of bench/read-tree.ts.
import { createHash, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lookup, readDir } from '../../src/ext2/dir.js';
import { CorruptionError, UnsupportedError } from '../../src/ext2/errors.js';
import { readFileRange, readLink } from '../../src/ext2/file.js';
import type { Inode } from '../../src/ext2/inode.js';
import { ROOT_INO } from '../../src/ext2/layout/inode.js';
import type { Volume } from '../../src/ext2/volume.js';
import { listXattrs, xattrValue } from '../../src/ext2/xattr.js';
import { imagePath } from './images.js';

export interface WalkOptions {
  /** Read chunk in bytes (default 1 MiB). */
  chunk?: number;
  /**
   * Read at most this many bytes from the start of a regular file (default: all).
   * When a file is larger, its last chunk is read too (so the end of the map is
   * exercised): a damaged i_size of 2^50 must not turn a fuzz case into a long zero-fill.
   */
  maxFileBytes?: number;
  /** Compute the content hash (default true; the bench turns it off). */
  hash?: boolean;
  /** Look every name up again with lookup() (default true). */
  lookups?: boolean;
  /**
   * Called with each typed error met at one inode or entry; the walk then goes on
   * with the next one. Without it the first error ends the walk (thrown).
   * Errors of any other type are always thrown.
   */
  onError?: (err: CorruptionError | UnsupportedError, where: { ino: number; path: string }) => void;
  /** Called with each inode as it is visited (before its contents are read). */
  onInode?: (inode: Inode, path: string) => void;
}

export interface WalkSummary {
  /** Distinct inodes visited (root included). */
  inodes: number;
  dirs: number;
  files: number;
  symlinks: number;
  /** Devices, fifos, sockets, and anything else. */
  others: number;
  /** Directory entries seen, "." and ".." excluded. */
  entries: number;
  /** Names whose lookup() gave another inode than readDir (0 on a sound image). */
  lookupMismatches: number;
  /** File content bytes read. */
  bytes: number;
  xattrs: number;
  xattrBytes: number;
  /** Typed errors passed to onError. */
  errors: number;
  /** sha256 over (path, ino, mode, size, links, content, link target, xattrs), in walk order; '' when hash is off. */
  hash: string;
}

const DOT = 0x2e;

function isDotOrDotDot(name: Uint8Array): boolean {
  return (name.length === 1 && name[0] === DOT) || (name.length === 2 && name[0] === DOT && name[1] === DOT);
}

function isTyped(e: unknown): e is CorruptionError | UnsupportedError {
  return e instanceof CorruptionError || e instanceof UnsupportedError;
}

const u32buf = new Uint8Array(4);
function hashU32(h: Hash, v: number): void {
  new DataView(u32buf.buffer).setUint32(0, v >>> 0, true);
  h.update(u32buf);
}
function hashNum(h: Hash, v: number): void {
  h.update(String(v));
  h.update('\0');
}

/** Walk the whole tree of `vol`; see WalkOptions for error handling. */
export function walkTree(vol: Volume, opts: WalkOptions = {}): WalkSummary {
  const chunk = opts.chunk ?? 1 << 20;
  const maxFileBytes = opts.maxFileBytes ?? Number.POSITIVE_INFINITY;
  const doLookups = opts.lookups ?? true;
  const h = opts.hash === false ? null : createHash('sha256');
  const buf = new Uint8Array(chunk);
  const s: WalkSummary = {
    inodes: 0, dirs: 0, files: 0, symlinks: 0, others: 0, entries: 0, lookupMismatches: 0,
    bytes: 0, xattrs: 0, xattrBytes: 0, errors: 0, hash: '',
  };
  const seen = new Set<number>();
  // Breadth-first, so a damaged deep chain cannot blow the JS stack.
  const queue: { ino: number; path: string }[] = [{ ino: ROOT_INO, path: '' }];

  const guard = (where: { ino: number; path: string }, fn: () => void): void => {
    if (!opts.onError) { fn(); return; }
    try {
      fn();
    } catch (e) {
      if (!isTyped(e)) throw e;
      s.errors++;
      opts.onError(e, where);
    }
  };

  const readContents = (inode: Inode): void => {
    const size = inode.size;
    const readAt = (pos: number, end: number): void => {
      while (pos < end) {
        const dst = end - pos >= chunk ? buf : buf.subarray(0, end - pos);
        const n = readFileRange(vol, inode, pos, dst);
        if (n <= 0) throw new Error(`readFileRange returned ${n} at ${pos} of ${size} (inode ${inode.ino})`);
        h?.update(dst.subarray(0, n));
        s.bytes += n;
        pos += n;
      }
    };
    const head = Math.min(size, maxFileBytes);
    readAt(0, head);
    if (size > head) readAt(Math.max(head, size - chunk), size);
  };

  const visitXattrs = (inode: Inode): void => {
    for (const e of listXattrs(vol, inode)) {
      const v = xattrValue(vol, inode, e);
      s.xattrs++;
      s.xattrBytes += v.length;
      if (h) {
        hashNum(h, e.index);
        h.update(e.nameBytes);
        h.update('\0');
        hashNum(h, v.length);
        h.update(v);
      }
    }
  };

  while (queue.length > 0) {
    const where = queue.shift()!;
    const { ino, path } = where;
    if (seen.has(ino)) continue;
    seen.add(ino);
    guard(where, () => {
      const inode = vol.inodes.get(ino);
      s.inodes++;
      opts.onInode?.(inode, path);
      if (h) {
        h.update(path);
        h.update('\0');
        hashU32(h, ino);
        hashNum(h, inode.mode);
        hashNum(h, inode.size);
        hashNum(h, inode.linksCount);
      }
      guard(where, () => visitXattrs(inode));
      if (inode.isDir) {
        s.dirs++;
        const names: { ino: number; name: Uint8Array }[] = [];
        readDir(vol, inode, 0, (child, name) => {
          if (!isDotOrDotDot(name)) names.push({ ino: child, name: name.slice() });
          return true;
        });
        for (const { ino: child, name } of names) {
          s.entries++;
          const childPath = `${path}/${Buffer.from(name).toString('latin1')}`;
          if (h) {
            h.update(name);
            h.update('\0');
            hashU32(h, child);
          }
          if (doLookups) {
            guard({ ino, path: childPath }, () => {
              if (lookup(vol, inode, name) !== child) s.lookupMismatches++;
            });
          }
          if (!seen.has(child)) queue.push({ ino: child, path: childPath });
        }
      } else if (inode.isReg) {
        s.files++;
        readContents(inode);
      } else if (inode.isSymlink) {
        s.symlinks++;
        const t = readLink(vol, inode);
        if (typeof t === 'number') throw new Error(`readLink of symlink ${ino} returned errno ${t}`);
        h?.update(t);
        s.bytes += t.length;
      } else {
        s.others++;
        if (h) {
          const { major, minor } = inode.rdev;
          hashNum(h, major);
          hashNum(h, minor);
        }
      }
    });
  }
  if (h) s.hash = h.digest('hex');
  return s;
}

/** The bytes of a committed test image (see images.ts), read once; each call returns a private copy. */
const imageCache = new Map<string, Uint8Array>();
export function imageBytes(name: string): Uint8Array {
  let b = imageCache.get(name);
  if (b === undefined) {
    b = new Uint8Array(readFileSync(imagePath(name)));
    imageCache.set(name, b);
  }
  return b.slice();
}
