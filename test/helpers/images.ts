// The committed test images (test/images/*.gz, described by manifest.json).
// imagePath() decompresses an image once per process into
// os.tmpdir()/fuse4fs-ts-images-<pid>/ and checks its sha256 against the
// manifest; freshCopy() hands out a new writable copy per call. The directory
// is removed when the process exits (and directories left by dead processes
// are swept on first use).
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const IMAGES_DIR = fileURLToPath(new URL('../images/', import.meta.url));

export interface FileTime {
  /** seconds since the epoch (may be negative) */
  sec: number;
  ns: number;
}

export interface XattrFact {
  len: number;
  /** the value in hex, for values of at most 64 bytes */
  hex?: string;
  sha256: string;
}

/** Facts about one path of an image, from debugfs (plus what the script knows). */
export interface FileFacts {
  ino: number;
  type: 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';
  /** permission bits incl. setuid/setgid/sticky, octal string, e.g. "04755" */
  mode: string;
  /** i_flags as hex, e.g. "0x80000" (extents) */
  flags: string;
  uid: number;
  gid: number;
  size: number;
  links: number;
  /** i_blocks as debugfs reports it (512-byte units) */
  blockcount: number;
  /** xattr block number, 0 if none */
  fileAcl: number;
  mtime: FileTime;
  fastSymlink?: boolean;
  /** symlink target */
  target?: string;
  rdev?: { major: number; minor: number };
  /** ext4 inline_data: debugfs "Size of inline data" (i_block + system.data room) */
  inlineDataSize?: number;
  /** stamped content, see manifest.stampFormat */
  stamp?: { unit: number; blocks: string[] };
  /** getfacl -cn, entries joined with "," */
  acl?: string;
  extent_depth?: number;
  htree_indirect_levels?: number;
  entries?: number;
  first_name?: string;
  name_pattern?: string;
  unwritten_blocks?: string;
  /** "xattr:user.comment" etc. */
  [xattr: `xattr:${string}`]: XattrFact;
}

export interface ManifestEntry {
  /** short name, e.g. "ext4", "ext2-1k", "demo" */
  name: string;
  /** uncompressed file name, e.g. "ext4.img", "demo.ext4" */
  image: string;
  /** committed file name, e.g. "ext4.img.gz" */
  file: string;
  description: string;
  fsType: 'ext2' | 'ext3' | 'ext4';
  mkfs: string;
  postprocess: string[];
  fsckFixes: string[];
  features: string[];
  blockSize: number;
  inodeSize: number;
  blocksCount: number;
  inodesCount: number;
  freeBlocks: number;
  freeInodes: number;
  firstDataBlock: number;
  revision: string;
  journalSize: string | null;
  label: string;
  uuid: string;
  hashSeed: string | null;
  defaultHash: string | null;
  /** uncompressed size in bytes */
  sizeBytes: number;
  gzBytes: number;
  /** sha256 of the uncompressed image */
  sha256: string;
  kernelMountable: boolean;
  /** mount options besides loop, e.g. "ro,noload" */
  kernelMountOptions: string;
  kernelNote: string;
  /** role -> path, e.g. { sparse_triple_indirect: "/sparse/big" } */
  objects: Record<string, string>;
  /** path -> facts */
  files: Record<string, FileFacts>;
  notes: string[];
}

export interface Manifest {
  comment: string;
  e2fsprogs: string;
  timestampT0: number;
  stampFormat: string;
  timeRules: string;
  images: ManifestEntry[];
}

let manifestCache: Manifest | undefined;

export function readManifest(): Manifest {
  manifestCache ??= JSON.parse(readFileSync(join(IMAGES_DIR, 'manifest.json'), 'utf8')) as Manifest;
  return manifestCache;
}

export function listImages(): ManifestEntry[] {
  return readManifest().images;
}

/** The manifest entry for "ext4", "ext4.img", "demo" or "demo.ext4". */
export function getImage(name: string): ManifestEntry {
  const e = listImages().find((x) => x.name === name || x.image === name || x.file === name);
  if (!e) {
    throw new Error(`no test image "${name}" (known: ${listImages().map((x) => x.name).join(', ')})`);
  }
  return e;
}

// ---------------------------------------------------------------- temp dir

const PREFIX = 'fuse4fs-ts-images-';
let workDir: string | undefined;
const decompressed = new Map<string, string>();
let copies = 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function dir(): string {
  if (workDir) return workDir;
  // sweep directories of processes that died without cleaning up
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length));
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
  workDir = join(tmpdir(), `${PREFIX}${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  process.once('exit', cleanupImages);
  return workDir;
}

/** Removes this process's decompressed images and copies (also runs at exit). */
export function cleanupImages(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
  decompressed.clear();
}

/**
 * Path of the decompressed image, made once per process and shared: treat it
 * as read-only (it is chmod 0444; use freshCopy() to write). Throws if the
 * decompressed bytes do not match the manifest's sha256.
 */
export function imagePath(name: string): string {
  const entry = getImage(name);
  const hit = decompressed.get(entry.name);
  if (hit && existsSync(hit)) return hit;
  const gz = join(IMAGES_DIR, entry.file);
  if (!existsSync(gz)) throw new Error(`test image ${gz} is missing (run test/images/make-images.sh)`);
  const bytes = gunzipSync(readFileSync(gz));
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== entry.sha256) {
    throw new Error(`${entry.file}: sha256 ${sum} does not match manifest.json (${entry.sha256}); rerun make-images.sh`);
  }
  const out = join(dir(), entry.image);
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  chmodSync(tmp, 0o444);
  renameSync(tmp, out);
  decompressed.set(entry.name, out);
  return out;
}

/** A new writable copy of the image on every call (removed at process exit). */
export function freshCopy(name: string): string {
  const entry = getImage(name);
  const src = imagePath(entry.name);
  copies += 1;
  const out = join(dir(), `copy-${copies}-${entry.image}`);
  copyFileSync(src, out);
  chmodSync(out, 0o644);
  return out;
}

/**
 * The bytes a stamped file holds (see manifest.stampFormat): for block b of
 * `unit` bytes, the line "<path> block <b>\n" repeated and cut at unit bytes.
 */
export function stampedBlock(path: string, block: number, unit: number): Buffer {
  const line = `${path} block ${block}\n`;
  return Buffer.from(line.repeat(Math.ceil(unit / line.length) + 1).slice(0, unit), 'utf8');
}

/** The stamped block numbers of a file, expanded from its START:COUNT[:STEP] specs. */
export function stampedBlocks(facts: FileFacts): number[] {
  const out: number[] = [];
  for (const spec of facts.stamp?.blocks ?? []) {
    const [start, count, step = 1] = spec.split(':').map(Number) as [number, number, number?];
    for (let i = 0; i < count; i++) out.push(start + i * step);
  }
  return out;
}

/**
 * The whole expected content of a stamped file (holes as zeros). Only for
 * files of reasonable size; throws above `limit` bytes.
 */
export function expectedStampedContent(path: string, facts: FileFacts, limit = 64 << 20): Buffer {
  if (!facts.stamp) throw new Error(`${path} is not a stamped file`);
  if (facts.size > limit) throw new Error(`${path}: ${facts.size} bytes is over the ${limit} limit`);
  const buf = Buffer.alloc(facts.size);
  const { unit } = facts.stamp;
  for (const b of stampedBlocks(facts)) {
    const off = b * unit;
    if (off >= facts.size) continue;
    stampedBlock(path, b, unit).copy(buf, off, 0, Math.min(unit, facts.size - off));
  }
  return buf;
}
