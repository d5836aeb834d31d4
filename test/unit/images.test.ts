// The committed test images are what the manifest says they are: the
// decompressed bytes match its sha256, e2fsck -fn finds them clean, dumpe2fs
// reports its features, and (where the kernel can mount them) Linux sees the
// same files, modes, owners, sizes, times, link targets, device numbers,
// stamped contents, xattrs and ACLs as manifest.json records.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  expectedStampedContent, freshCopy, getImage, IMAGES_DIR, imagePath, listImages, stampedBlock, stampedBlocks,
  type FileFacts, type ManifestEntry,
} from '../helpers/images.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';
import { e2fsck, features, hasTool, runTool } from '../helpers/tools.js';

const images = listImages();
const noE2fsprogs = !hasTool('e2fsck') || !hasTool('dumpe2fs') ? 'e2fsprogs is not installed' : false;
const noLoop = !canLoopMount() ? 'loop mounts need root and loop devices' : false;

function typeOf(st: BigIntStats): FileFacts['type'] | 'unknown' {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return 'unknown';
}

// glibc's gnu_dev_major/minor
function devMajor(dev: bigint): number {
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
}
function devMinor(dev: bigint): number {
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
}

function readAt(path: string, pos: number, len: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, pos);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function checkStamped(mnt: string, path: string, f: FileFacts): void {
  const host = join(mnt, path);
  if (f.size <= 8 << 20) {
    assert.ok(readFileSync(host).equals(expectedStampedContent(path, f)), `${path}: content differs from the stamp`);
    return;
  }
  // large sparse files: each stamped block, and one byte of hole before it
  const unit = f.stamp!.unit;
  for (const b of stampedBlocks(f)) {
    const want = stampedBlock(path, b, unit).subarray(0, Math.max(0, Math.min(unit, f.size - b * unit)));
    assert.ok(readAt(host, b * unit, want.length).equals(want), `${path}: stamped block ${b}`);
    if (b > 0 && !stampedBlocks(f).includes(b - 1)) {
      assert.deepEqual([...readAt(host, b * unit - 1, 1)], [0], `${path}: hole before block ${b}`);
    }
  }
}

function kernelXattrs(path: string): Map<string, Buffer> {
  const r = runTool('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', path]);
  assert.equal(r.code, 0, r.output);
  const out = new Map<string, Buffer>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line.trim());
    if (m && !m[1]!.startsWith('system.')) out.set(m[1]!, Buffer.from(m[2]!, 'hex'));
  }
  return out;
}

function checkFile(mnt: string, path: string, f: FileFacts, entry: ManifestEntry): void {
  const host = join(mnt, path);
  const st = lstatSync(host, { bigint: true });
  const what = `${entry.name}:${path}`;
  assert.equal(typeOf(st), f.type, `${what} type`);
  assert.equal((st.mode & 0o7777n).toString(8), parseInt(f.mode, 8).toString(8), `${what} mode (octal)`);
  assert.equal(Number(st.uid), f.uid, `${what} uid`);
  assert.equal(Number(st.gid), f.gid, `${what} gid`);
  assert.equal(st.size, BigInt(f.size), `${what} size`);
  assert.equal(Number(st.nlink), f.links, `${what} nlink`);
  assert.equal(st.mtimeNs, BigInt(f.mtime.sec) * 1_000_000_000n + BigInt(f.mtime.ns), `${what} mtime`);
  if (f.target !== undefined) assert.equal(readlinkSync(host, 'utf8'), f.target, `${what} symlink target`);
  if (f.rdev) {
    assert.deepEqual({ major: devMajor(st.rdev), minor: devMinor(st.rdev) }, f.rdev, `${what} rdev`);
  }
  if (f.stamp) checkStamped(mnt, path, f);
  if (f.entries !== undefined) {
    const names = readdirSync(host);
    assert.equal(names.length, f.entries, `${what} entry count`);
    if (f.first_name) assert.ok(names.includes(f.first_name), `${what} has ${f.first_name}`);
  }
  const xattrFacts = Object.entries(f).filter(([k]) => k.startsWith('xattr:'));
  if (xattrFacts.length > 0 && hasTool('getfattr')) {
    const got = kernelXattrs(host);
    assert.deepEqual([...got.keys()].sort(), xattrFacts.map(([k]) => k.slice(6)).sort(), `${what} xattr names`);
    for (const [k, v] of xattrFacts) {
      const value = got.get(k.slice(6))!;
      assert.equal(value.length, v.len, `${what} ${k} length`);
      assert.equal(createHash('sha256').update(value).digest('hex'), v.sha256, `${what} ${k} value`);
    }
  }
  if (f.acl !== undefined && hasTool('getfacl')) {
    const r = runTool('getfacl', ['-cn', host]);
    assert.equal(r.stdout.split('\n').filter(Boolean).join(','), f.acl, `${what} ACL`);
  }
}

describe('committed test images', () => {
  it('manifest lists every .gz in test/images and nothing else', () => {
    const gz = readdirSync(IMAGES_DIR).filter((n) => n.endsWith('.gz')).sort();
    assert.deepEqual(images.map((e) => e.file).sort(), gz);
    assert.ok(images.length >= 10);
  });

  it('every object role points at a path with facts', () => {
    for (const e of images) {
      for (const [role, p] of Object.entries(e.objects)) assert.ok(e.files[p], `${e.name}: ${role} -> ${p}`);
    }
  });

  it('imagePath is cached; freshCopy gives distinct writable copies', () => {
    const a = imagePath('demo');
    assert.equal(imagePath('demo.ext4'), a);
    const c1 = freshCopy('demo');
    const c2 = freshCopy('demo');
    assert.notEqual(c1, c2);
    assert.ok(readFileSync(c1).equals(readFileSync(a)));
    assert.throws(() => getImage('nope'), /no test image "nope"/);
  });

  for (const entry of images) {
    describe(entry.name, () => {
      it('decompresses to the manifest sha256 and size', () => {
        const bytes = gunzipSync(readFileSync(join(IMAGES_DIR, entry.file)));
        assert.equal(bytes.length, entry.sizeBytes);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.sha256);
        assert.ok(imagePath(entry.name).endsWith(entry.image));
      });

      it('e2fsck -fn is clean', { skip: noE2fsprogs }, () => {
        const r = e2fsck(imagePath(entry.name));
        assert.equal(r.code, 0, r.output);
      });

      it('dumpe2fs reports the manifest features', { skip: noE2fsprogs }, () => {
        assert.deepEqual(features(imagePath(entry.name)), entry.features);
      });

      if (entry.kernelMountable) {
        it('the kernel sees what the manifest says', { skip: noLoop }, async () => {
          await withLoopMount(imagePath(entry.name), (mnt) => {
            for (const [path, f] of Object.entries(entry.files)) checkFile(mnt, path, f, entry);
          });
        });
      }
    });
  }

  it('specific facts the other tests rely on', () => {
    const ext2 = getImage('ext2-1k');
    assert.equal(ext2.blockSize, 1024);
    assert.equal(ext2.files[ext2.objects.sparse_triple_indirect!]!.size, 73400320);
    assert.equal(getImage('ext4-bigdir').files['/bigdir']!.htree_indirect_levels, 1);
    assert.equal(getImage('ext4-deep-extents').files['/deep/depth2']!.extent_depth, 2);
    assert.ok(getImage('ext4-inline').features.includes('inline_data'));
    assert.ok(getImage('ext4-xattr').features.includes('ea_inode'));
    assert.equal(getImage('ext4-64k').kernelMountable, false);
    const ext4 = getImage('ext4');
    assert.equal(ext4.files['/xattr/inode-small']!.fileAcl, 0, 'small xattr lives in the inode');
    assert.notEqual(ext4.files['/xattr/block-big']!.fileAcl, 0, 'big xattr lives in a block');
    assert.equal(ext4.files['/links/len59']!.fastSymlink, true);
    assert.equal(ext4.files['/links/len60']!.fastSymlink, false);
  });
});
