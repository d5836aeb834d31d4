// Directory modification (src/ext2/dir-write.ts, htree-write.ts, inline-dir-write.ts).
// Oracles: e2fsck -fn exit 0 after every change, our reader (readDir, lookup
// through the index), debugfs `ls -l`, and the kernel's own listing through a
// loop mount (skipped where loop mounts are unavailable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Volume } from '../../src/ext2/volume.js';
import type { Inode } from '../../src/ext2/inode.js';
import { Errno } from '../../src/util/errno.js';
import { viewOf } from '../../src/util/struct.js';
import {
  addEntry, isEmptyDir, removeEntry, replaceEntry, setDotDot,
} from '../../src/ext2/dir-write.js';
import { chooseSplit, dxRootLimit, setDxChecksum, type SplitEntry } from '../../src/ext2/htree-write.js';
import { hasDirTail, isIndexed, lookup, readDir } from '../../src/ext2/dir.js';
import { effectiveHashVersion, readDxRoot } from '../../src/ext2/htree.js';
import { dirHash } from '../../src/ext2/dirhash.js';
import { isInline, runAt } from '../../src/ext2/file.js';
import { inlineBytes } from '../../src/ext2/inline.js';
import { inodeXattrs } from '../../src/ext2/xattr.js';
import { xattrEntryHash } from '../../src/ext2/xattr-codec.js';
import { resolvePath } from '../../src/ext2/namei.js';
import { FT } from '../../src/ext2/layout/dirent.js';
import { InodeFlags, S_IFDIR } from '../../src/ext2/layout/inode.js';
import { freshCopy } from '../helpers/images.js';
import { e2fsck, hasTool, mke2fs } from '../helpers/tools.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';
import {
  bytes, debugfsEntries, kernelView, makeDir, newFile, ourEntries, releaseInode, setLinks, withVolume,
} from '../helpers/fixtures.js';

const TOOLS = hasTool('e2fsck') && hasTool('debugfs');
const KERNEL = TOOLS && canLoopMount();
const dec = new TextDecoder();

function fsckClean(image: string, when: string): void {
  const r = e2fsck(image);
  assert.equal(r.code, 0, `e2fsck -fn after ${when}:\n${r.output}`);
}

function dirOf(vol: Volume, path: string): Inode {
  const ino = resolvePath(vol, path);
  assert.ok(ino > 0, `${path}: ${ino}`);
  return vol.inodes.get(ino);
}

/** Names → inode numbers the three readers agree on. */
async function checkListing(image: string, path: string, want: Map<string, number>): Promise<void> {
  const vol = Volume.open(image, { readOnly: true });
  try {
    const dir = dirOf(vol, path);
    assert.deepEqual(sorted(ourEntries(vol, dir)), sorted(want), 'our readDir');
    for (const [name, ino] of want) assert.equal(lookup(vol, dir, bytes(name)), ino, `lookup ${name}`);
    checkDirBlocks(vol, dir);
  } finally {
    vol.close();
  }
  assert.deepEqual(sorted(debugfsEntries(image, path)), sorted(want), 'debugfs ls -l');
  if (KERNEL) {
    // Every name listed; a sample (every 7th) looked up through the kernel's index.
    const sample = [...want.keys()].filter((_, i) => i % 7 === 0);
    const k = await kernelView(image, path, sample);
    assert.deepEqual(k.names.sort(), [...want.keys()].sort(), 'kernel ls -f');
    for (const n of sample) assert.equal(k.inos.get(n), want.get(n), `kernel lookup of ${n}`);
  }
}

function sorted(m: Map<string, number>): [string, number][] {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * With metadata_csum: every leaf block has its tail (and readDir verified the
 * checksums); index blocks are checked by the lookups. Returns the leaf count.
 */
function checkDirBlocks(vol: Volume, dir: Inode): number {
  const bs = vol.blockSize;
  if (isInline(dir)) return 0;
  const indexNodes = new Set<number>();
  if (isIndexed(vol, dir)) {
    const root = vol.cache.get(runAt(vol, dir, 0).physical);
    const info = readDxRoot(vol, dir, root, runAt(vol, dir, 0).physical);
    indexNodes.add(0);
    if (info.indirectLevels > 0) {
      const dv = viewOf(root);
      for (let i = 0; i < info.count; i++) indexNodes.add(dv.getUint32(info.countOffset + i * 8 + 4, true));
    }
  }
  let leaves = 0;
  for (let lblk = 0; lblk < dir.size / bs; lblk++) {
    if (indexNodes.has(lblk)) continue;
    const b = vol.cache.get(runAt(vol, dir, lblk).physical);
    if (vol.hasMetadataCsum) assert.ok(hasDirTail(b, bs), `block ${lblk} of dir ${dir.ino} lacks its checksum tail`);
    leaves++;
  }
  return leaves;
}

/** ".." as readDir reports it (lookup() of ".." in an htree searches the leaves, where it is not). */
function dotdotOf(vol: Volume, dir: Inode): number {
  let dotdot = 0;
  readDir(vol, dir, 0, (ino, n) => { if (dec.decode(n) === '..') { dotdot = ino; return false; } return true; });
  return dotdot;
}

function rootInfo(vol: Volume, dir: Inode) {
  const p = runAt(vol, dir, 0).physical;
  return readDxRoot(vol, dir, vol.cache.get(p), p);
}

/** Add `names` to a new directory /NAME pointing at `pool` file inodes (round robin); link counts set. */
function populate(image: string, dirName: string, names: string[], poolSize = 8): Map<string, number> {
  return withVolume(image, (vol, h) => {
    const root = vol.inodes.get(2);
    const dir = makeDir(vol, h, root, dirName);
    const pool = Array.from({ length: poolSize }, () => newFile(vol, h, dir.ino));
    const links = new Map<Inode, number>();
    const want = new Map<string, number>();
    names.forEach((n, i) => {
      const f = pool[i % poolSize]!;
      assert.equal(addEntry(vol, h, dir, bytes(n), f.ino, FT.REG_FILE), 0, `add ${n}`);
      links.set(f, (links.get(f) ?? 0) + 1);
      want.set(n, f.ino);
    });
    for (const f of pool) {
      if (links.has(f)) setLinks(vol, h, f, links.get(f)!);
      else releaseInode(vol, h, f);
    }
    return want;
  });
}

/** Remove every name of `want` from /DIR and free the inodes they pointed at. */
function removeAll(image: string, dirName: string, want: Map<string, number>): void {
  withVolume(image, (vol, h) => {
    const dir = dirOf(vol, `/${dirName}`);
    const inodes = new Set<number>();
    for (const [n, ino] of want) {
      assert.equal(removeEntry(vol, h, dir, bytes(n)), ino, `remove ${n}`);
      inodes.add(ino);
    }
    for (const ino of inodes) releaseInode(vol, h, vol.inodes.get(ino));
    assert.ok(isEmptyDir(vol, dir));
  });
}

const shortName = (i: number) => `file-${i.toString(36)}-${'abcdefgh'.slice(0, i % 8)}`;
const longName = (i: number, len = 255) => `${i}-`.padEnd(len, String.fromCharCode(97 + (i % 26)));

test('ext4 (4 KiB, metadata_csum): 5000 names → htree with leaf splits; then all removed', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext4');
  const names = Array.from({ length: 5000 }, (_, i) => shortName(i));
  const want = populate(img, 'big', names);
  fsckClean(img, 'adding 5000 names');
  const vol = Volume.open(img, { readOnly: true });
  const dir = dirOf(vol, '/big');
  assert.ok(isIndexed(vol, dir));
  const info = rootInfo(vol, dir);
  assert.equal(info.indirectLevels, 0);
  assert.ok(info.count > 2, `root has ${info.count} leaves`);
  vol.close();
  await checkListing(img, '/big', want);
  removeAll(img, 'big', want);
  fsckClean(img, 'removing them all');
  await checkListing(img, '/big', new Map());
});

test('ext4-1k: 5000 names of 255 bytes → index split, two-level htree; then all removed', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext4-1k');
  const names = Array.from({ length: 5000 }, (_, i) => longName(i));
  const want = populate(img, 'deep', names, 4);
  fsckClean(img, 'adding 5000 long names');
  const vol = Volume.open(img, { readOnly: true });
  const dir = dirOf(vol, '/deep');
  const info = rootInfo(vol, dir);
  assert.equal(info.indirectLevels, 1, 'indirect_levels');
  assert.ok(info.count >= 2, 'root points at several index nodes');
  assert.equal(info.limit, dxRootLimit(vol));
  vol.close();
  await checkListing(img, '/deep', want);
  removeAll(img, 'deep', want);
  fsckClean(img, 'removing them all');
  await checkListing(img, '/deep', new Map());
});

test('ext2-1k (indirect blocks, no checksums): add/remove, conversion to htree', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext2-1k');
  const names = Array.from({ length: 1500 }, (_, i) => `${shortName(i)}-${'q'.repeat(i % 40)}`);
  const want = populate(img, 'd', names);
  fsckClean(img, 'adding');
  await checkListing(img, '/d', want);
  // Remove every other name, then add new ones (slots are reused).
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, '/d');
    assert.ok(isIndexed(vol, dir));
    const f = newFile(vol, h, dir.ino);
    let i = 0;
    for (const [n, ino] of [...want]) {
      if (i++ % 2) continue;
      assert.equal(removeEntry(vol, h, dir, bytes(n)), ino);
      want.delete(n);
      const inode = vol.inodes.get(ino);
      if (inode.linksCount === 1) releaseInode(vol, h, inode);
      else setLinks(vol, h, inode, inode.linksCount - 1);
    }
    for (let k = 0; k < 300; k++) {
      assert.equal(addEntry(vol, h, dir, bytes(`new-${k}`), f.ino, FT.REG_FILE), 0);
      want.set(`new-${k}`, f.ino);
    }
    setLinks(vol, h, f, 300);
  });
  fsckClean(img, 'removing half and adding 300');
  await checkListing(img, '/d', want);
  removeAll(img, 'd', want);
  fsckClean(img, 'removing all');
});

test('ext3 (journal, 1 KiB, indirect): add 3000 and remove them', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext3');
  const want = populate(img, 'j', Array.from({ length: 3000 }, (_, i) => longName(i, 20 + (i % 200))));
  fsckClean(img, 'adding');
  await checkListing(img, '/j', want);
  removeAll(img, 'j', want);
  fsckClean(img, 'removing');
  await checkListing(img, '/j', new Map());
});

for (const variant of [['^dir_index'], ['^dir_index', '^filetype']] as const) {
  test(`ext2 without ${variant.join(',').replace(/\^/g, '')}: linear growth, slot reuse`, { skip: !TOOLS }, async () => {
    const dirTmp = mkdtempSync(join(tmpdir(), 'dw-'));
    try {
      const img = join(dirTmp, 'lin.img');
      mke2fs(['-q', '-t', 'ext2', '-b', '1024', '-O', variant.join(','), img, '8M']);
      const want = populate(img, 'lin', Array.from({ length: 1000 }, (_, i) => shortName(i)));
      fsckClean(img, 'adding');
      let size = 0;
      withVolume(img, (vol, h) => {
        const dir = dirOf(vol, '/lin');
        assert.ok(!dir.hasFlag(InodeFlags.INDEX));
        size = dir.size;
        assert.ok(size > 20 * 1024, `grew to ${size}`);
        // Remove 100 names and add 100 of the same length: no growth.
        const names = [...want.keys()].slice(100, 200);
        const f = newFile(vol, h, dir.ino);
        for (const n of names) {
          const ino = want.get(n)!;
          assert.equal(removeEntry(vol, h, dir, bytes(n)), ino);
          want.delete(n);
          const inode = vol.inodes.get(ino);
          if (inode.linksCount === 1) releaseInode(vol, h, inode);
          else setLinks(vol, h, inode, inode.linksCount - 1);
        }
        for (const n of names) {
          const m = n.replace('file', 'FILE');
          assert.equal(addEntry(vol, h, dir, bytes(m), f.ino, FT.REG_FILE), 0);
          want.set(m, f.ino);
        }
        setLinks(vol, h, f, names.length);
        assert.equal(dir.size, size, 'slots reused');
      });
      fsckClean(img, 'remove/re-add');
      await checkListing(img, '/lin', want);
      removeAll(img, 'lin', want);
      fsckClean(img, 'removing all');
    } finally {
      rmSync(dirTmp, { recursive: true, force: true });
    }
  });
}

test('a one-block linear directory becomes an htree exactly when it overflows', { skip: !TOOLS }, async () => {
  for (const image of ['ext4', 'ext2-1k']) {
    const img = freshCopy(image);
    const want = withVolume(img, (vol, h) => {
      const bs = vol.blockSize;
      const dir = makeDir(vol, h, vol.inodes.get(2), 'conv');
      const f = newFile(vol, h, dir.ino);
      const want = new Map<string, number>();
      for (let i = 0; ; i++) {
        const n = `entry-${i}-${'z'.repeat(i % 13)}`;
        assert.equal(dir.size, bs);
        assert.ok(!isIndexed(vol, dir));
        assert.equal(addEntry(vol, h, dir, bytes(n), f.ino, FT.REG_FILE), 0);
        want.set(n, f.ino);
        if (dir.size !== bs) break;
      }
      // make_indexed_dir: root + two leaves, one level.
      assert.ok(isIndexed(vol, dir));
      assert.equal(dir.size, 3 * bs);
      const info = rootInfo(vol, dir);
      assert.equal(info.count, 2);
      assert.equal(info.indirectLevels, 0);
      assert.equal(info.hashVersion, vol.sb.s_def_hash_version);
      setLinks(vol, h, f, want.size);
      return want;
    });
    fsckClean(img, `conversion on ${image}`);
    await checkListing(img, '/conv', want);
  }
});

test('ext4-inline: an inline directory grows in place, then moves to a block, then to an htree', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext4-inline');
  const path = '/inline/smalldir';
  const before = withVolume(img, (vol) => ourEntries(vol, dirOf(vol, path)));
  const want = new Map(before);
  // One small entry still fits in i_block (a, b, c take 36 of the 56 bytes).
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, path);
    assert.ok(isInline(dir));
    const f = newFile(vol, h, dir.ino);
    assert.equal(addEntry(vol, h, dir, bytes('dd'), f.ino, FT.REG_FILE), 0);
    want.set('dd', f.ino);
    assert.ok(isInline(dir), 'still inline');
    assert.equal(dir.size, 60);
  });
  fsckClean(img, 'inline add');
  await checkListing(img, path, want);
  // Remove one inline entry and put another in its place.
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, path);
    const ino = want.get('dd')!;
    assert.equal(removeEntry(vol, h, dir, bytes('dd')), ino);
    assert.equal(removeEntry(vol, h, dir, bytes('dd')), -Errno.ENOENT);
    assert.equal(addEntry(vol, h, dir, bytes('ee'), ino, FT.REG_FILE), 0);
    want.delete('dd');
    want.set('ee', ino);
    assert.ok(isInline(dir));
  });
  fsckClean(img, 'inline remove + add');
  await checkListing(img, path, want);
  // The next one does not fit: the directory moves to a block.
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, path);
    const f = vol.inodes.get(want.get('ee')!);
    assert.equal(addEntry(vol, h, dir, bytes('a-longer-name-that-will-not-fit'), f.ino, FT.REG_FILE), 0);
    want.set('a-longer-name-that-will-not-fit', f.ino);
    setLinks(vol, h, f, 2);
    assert.ok(!isInline(dir));
    assert.equal(dir.size, vol.blockSize);
    assert.ok(dir.hasFlag(InodeFlags.EXTENTS));
    assert.ok(!inodeXattrs(vol, dir).some((e) => e.index === 7 && e.name === 'data'), 'system.data dropped');
    assert.equal(dotdotOf(vol, dir), resolvePath(vol, '/inline'));
  });
  fsckClean(img, 'move to a block');
  await checkListing(img, path, want);
  // And on to an htree.
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, path);
    const f = newFile(vol, h, dir.ino);
    for (let i = 0; i < 400; i++) {
      assert.equal(addEntry(vol, h, dir, bytes(`more-${i}`), f.ino, FT.REG_FILE), 0);
      want.set(`more-${i}`, f.ino);
    }
    setLinks(vol, h, f, 400);
    assert.ok(isIndexed(vol, dir));
  });
  fsckClean(img, 'growth to an htree');
  await checkListing(img, path, want);
});

test('ext4-inline: a kernel-made inline directory using the system.data value', { skip: !KERNEL }, async () => {
  const img = freshCopy('ext4-inline');
  // Let the kernel create an inline directory big enough to spill into system.data.
  await withLoopMount(img, (mnt) => {
    mkdirSync(join(mnt, 'kd'));
    for (let i = 1; i <= 7; i++) writeFileSync(join(mnt, 'kd', `f${i}`), '');
  }, { ro: false });
  const want = withVolume(img, (vol) => {
    const dir = dirOf(vol, '/kd');
    assert.ok(isInline(dir));
    assert.ok(inlineBytes(vol, dir).length > 60, 'system.data holds entries');
    return ourEntries(vol, dir);
  });
  // Free room in the value area (f7 lives there), then reuse it.
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, '/kd');
    for (const n of ['f5', 'f6', 'f7']) {
      const ino = removeEntry(vol, h, dir, bytes(n));
      assert.equal(ino, want.get(n));
      want.delete(n);
      releaseInode(vol, h, vol.inodes.get(ino));
    }
    const f = newFile(vol, h, dir.ino);
    assert.equal(addEntry(vol, h, dir, bytes('in-the-value'), f.ino, FT.REG_FILE), 0);
    want.set('in-the-value', f.ino);
    assert.ok(isInline(dir));
    const e = inodeXattrs(vol, dir).find((x) => x.index === 7 && x.name === 'data')!;
    assert.ok(e.value!.length > 0);
    if (e.hash !== 0) assert.equal(e.hash, xattrEntryHash(bytes('data'), e.value!), 'e_hash refreshed');
    assert.ok(dec.decode(e.value!).includes('in-the-value'), 'the new entry went into the value area');
  });
  fsckClean(img, 'edits in the system.data area');
  await checkListing(img, '/kd', want);
  // Overflow both areas: the directory moves to a block with all its entries.
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, '/kd');
    const f = newFile(vol, h, dir.ino);
    for (let i = 0; i < 10; i++) {
      assert.equal(addEntry(vol, h, dir, bytes(`spill-${i}`), f.ino, FT.REG_FILE), 0);
      want.set(`spill-${i}`, f.ino);
    }
    setLinks(vol, h, f, 10);
    assert.ok(!isInline(dir));
  });
  fsckClean(img, 'moving a system.data directory to a block');
  await checkListing(img, '/kd', want);
});

test('rename helpers: replaceEntry, setDotDot (linear, htree root, inline), isEmptyDir', { skip: !TOOLS }, async () => {
  for (const image of ['ext4', 'ext2-1k', 'ext4-inline']) {
    const img = freshCopy(image);
    withVolume(img, (vol, h) => {
      const root = vol.inodes.get(2);
      const a = makeDir(vol, h, root, 'a');
      const b = makeDir(vol, h, root, 'b');
      const c = makeDir(vol, h, a, 'c');
      assert.ok(isEmptyDir(vol, c));
      assert.ok(!isEmptyDir(vol, a));
      // Make c an htree so ".." lives in a dx root.
      const f = newFile(vol, h, c.ino);
      for (let i = 0; i < 300; i++) assert.equal(addEntry(vol, h, c, bytes(`x${i}-${'p'.repeat(i % 30)}`), f.ino, FT.REG_FILE), 0);
      setLinks(vol, h, f, 300);
      assert.ok(isIndexed(vol, c));
      // mv /a/c /b/c
      assert.equal(addEntry(vol, h, b, bytes('c'), c.ino, FT.DIR), 0);
      assert.equal(removeEntry(vol, h, a, bytes('c')), c.ino);
      assert.equal(setDotDot(vol, h, c, b.ino), 0);
      a.linksCount = a.linksCount - 1; vol.writeInode(h, a);
      b.linksCount = b.linksCount + 1; vol.writeInode(h, b);
      // mv /a /b/a-linear-over... : a linear dir moves under b, over an existing file name
      const victim = newFile(vol, h, b.ino);
      assert.equal(addEntry(vol, h, b, bytes('target'), victim.ino, FT.REG_FILE), 0);
      assert.equal(replaceEntry(vol, h, b, bytes('target'), a.ino, FT.DIR), victim.ino);
      assert.equal(removeEntry(vol, h, root, bytes('a')), a.ino);
      assert.equal(setDotDot(vol, h, a, b.ino), 0);
      releaseInode(vol, h, victim);
      root.linksCount = root.linksCount - 1; vol.writeInode(h, root);
      b.linksCount = b.linksCount + 1; vol.writeInode(h, b);
      assert.equal(lookup(vol, b, bytes('target')), a.ino);
      assert.equal(dotdotOf(vol, c), b.ino);
      assert.equal(dotdotOf(vol, a), b.ino);
      assert.equal(replaceEntry(vol, h, b, bytes('nope'), a.ino, FT.DIR), -Errno.ENOENT);
    });
    fsckClean(img, `renames on ${image}`);
    if (image === 'ext4-inline') {
      // An inline directory's ".." is i_block[0].
      withVolume(img, (vol, h) => {
        const small = dirOf(vol, '/inline/smalldir');
        assert.ok(isInline(small));
        const b = dirOf(vol, '/b');
        const inl = dirOf(vol, '/inline');
        assert.equal(addEntry(vol, h, b, bytes('small'), small.ino, FT.DIR), 0);
        assert.equal(removeEntry(vol, h, inl, bytes('smalldir')), small.ino);
        assert.equal(setDotDot(vol, h, small, b.ino), 0);
        inl.linksCount = inl.linksCount - 1; vol.writeInode(h, inl);
        b.linksCount = b.linksCount + 1; vol.writeInode(h, b);
        assert.equal(dotdotOf(vol, small), b.ino);
        assert.ok(!isEmptyDir(vol, small));
      });
      fsckClean(img, 'moving an inline directory');
    }
  }
});

test('argument errors and ENOSPC leave a consistent directory', { skip: !TOOLS }, () => {
  const img = freshCopy('ext4-1k');
  withVolume(img, (vol, h) => {
    const root = vol.inodes.get(2);
    const dir = makeDir(vol, h, root, 'e');
    const f = newFile(vol, h, dir.ino);
    assert.equal(addEntry(vol, h, dir, new Uint8Array(256).fill(0x61), f.ino, FT.REG_FILE), -Errno.ENAMETOOLONG);
    assert.equal(addEntry(vol, h, dir, new Uint8Array(0), f.ino, FT.REG_FILE), -Errno.EINVAL);
    assert.equal(addEntry(vol, h, dir, bytes('a/b'), f.ino, FT.REG_FILE), -Errno.EINVAL);
    assert.equal(addEntry(vol, h, dir, bytes('..'), f.ino, FT.REG_FILE), -Errno.EEXIST);
    assert.equal(removeEntry(vol, h, dir, bytes('.')), -Errno.EINVAL);
    assert.equal(removeEntry(vol, h, dir, bytes('missing')), -Errno.ENOENT);
    assert.equal(addEntry(vol, h, f, bytes('x'), f.ino, FT.REG_FILE), -Errno.ENOTDIR);
    // Fill the volume, then keep adding until a block is needed.
    const hog: { start: number; length: number }[] = [];
    for (;;) {
      const r = vol.alloc.allocBlocks(h, 0, 1 << 20);
      if (typeof r === 'number') break;
      hog.push(r);
    }
    let n = 0;
    let r = 0;
    while ((r = addEntry(vol, h, dir, bytes(longName(n)), f.ino, FT.REG_FILE)) === 0) n++;
    assert.equal(r, -Errno.ENOSPC);
    assert.equal(ourEntries(vol, dir).size, n);
    for (const x of hog) vol.alloc.freeBlocks(h, x.start, x.length);
    // The directory still works after ENOSPC: it grows into an htree.
    for (let k = 0; k < 40; k++) assert.equal(addEntry(vol, h, dir, bytes(longName(n++)), f.ino, FT.REG_FILE), 0);
    assert.ok(isIndexed(vol, dir));
    setLinks(vol, h, f, n);
    assert.equal(ourEntries(vol, dir).size, n);
  });
  fsckClean(img, 'ENOSPC and recovery');
});

test('64 KiB blocks: checksum tails, and whole-block records stored as 65535', { skip: !TOOLS }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'dw-'));
  try {
    const plain = join(tmp, '64k-nocsum.img');
    mke2fs(['-q', '-t', 'ext4', '-b', '65536', '-O', '^metadata_csum,^has_journal', plain, '32M']);
    for (const img of [freshCopy('ext4-64k'), plain]) {
      const want = populate(img, 'big', Array.from({ length: 1500 }, (_, i) => longName(i, 100 + (i % 150))));
      fsckClean(img, `adding on 64 KiB blocks (${img})`);
      withVolume(img, (vol) => {
        const dir = dirOf(vol, '/big');
        assert.ok(isIndexed(vol, dir));
        assert.deepEqual(sorted(ourEntries(vol, dir)), sorted(want));
        checkDirBlocks(vol, dir);
      });
      assert.deepEqual(sorted(debugfsEntries(img, '/big')), sorted(want));
      removeAll(img, 'big', want);
      fsckClean(img, `removing on 64 KiB blocks (${img})`);
      withVolume(img, (vol) => {
        const dir = dirOf(vol, '/big');
        // Emptied leaves: one record over the whole block (65536 → 65535 on disk) without checksums.
        let whole = 0;
        for (let lblk = 1; lblk < dir.size / vol.blockSize; lblk++) {
          if (viewOf(vol.cache.get(runAt(vol, dir, lblk).physical)).getUint16(4, true) === 65535) whole++;
        }
        if (!vol.hasMetadataCsum) assert.ok(whole > 0, 'some leaf is one 64 KiB record');
        assert.equal(ourEntries(vol, dir).size, 0);
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('hash collisions: equal hashes stay in one leaf and are found', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext4-1k');
  // Find names with equal (31-bit) hashes under this volume's seed by brute force.
  const pairs: [string, string][] = [];
  {
    const vol = Volume.open(img, { readOnly: true });
    const version = effectiveHashVersion(vol, vol.sb.s_def_hash_version)!;
    const seen = new Map<number, string>();
    for (let i = 0; pairs.length < 4 && i < 400_000; i++) {
      const n = `c${i.toString(36)}`;
      const hsh = dirHash(bytes(n), version, vol.hashSeed).hash;
      const other = seen.get(hsh);
      if (other !== undefined) pairs.push([other, n]);
      else seen.set(hsh, n);
    }
    vol.close();
  }
  assert.ok(pairs.length >= 1, 'found colliding names');
  // Long fillers make leaves split every few entries; the pairs go in along the way.
  const names: string[] = [];
  for (let i = 0; i < 900; i++) {
    names.push(longName(i, 200 + (i % 50)));
    const k = (i - 100) / 200;
    if (Number.isInteger(k) && k >= 0 && k < pairs.length) names.push(...pairs[k]!);
  }
  const want = populate(img, 'coll', names, 3);
  fsckClean(img, 'adding colliding names');
  await checkListing(img, '/coll', want);
  const vol = Volume.open(img, { readOnly: true });
  const dir = dirOf(vol, '/coll');
  // Both names of a pair sit in the same leaf.
  const leafOf = new Map<string, number>();
  for (let lblk = 1; lblk < dir.size / vol.blockSize; lblk++) {
    const b = vol.cache.get(runAt(vol, dir, lblk).physical);
    const dv = viewOf(b);
    for (let off = 0; off < vol.blockSize;) {
      const len = dv.getUint16(off + 4, true);
      if (dv.getUint32(off, true) !== 0) leafOf.set(dec.decode(b.subarray(off + 8, off + 8 + b[off + 6]!)), lblk);
      off += len;
    }
  }
  for (const [x, y] of pairs) assert.equal(leafOf.get(x), leafOf.get(y), `${x} and ${y} in one leaf`);
  vol.close();
  removeAll(img, 'coll', want);
  fsckClean(img, 'removing colliding names');
});

test('a leaf split that would divide two equal hashes moves to keep them together (end to end)', { skip: !TOOLS }, async () => {
  for (const image of ['ext2-1k', 'ext4-1k']) {
    const img = freshCopy(image);
    const want = withVolume(img, (vol, h) => {
      const bs = vol.blockSize;
      const usable = bs - (vol.hasMetadataCsum ? 12 : 0);
      const version = effectiveHashVersion(vol, vol.sb.s_def_hash_version)!;
      // Short names (rec_len 16) with their hashes; one colliding pair.
      const pool: { name: string; hash: number }[] = [];
      const seen = new Map<number, string>();
      let pair: [string, string] | null = null;
      for (let i = 0; pair === null; i++) {
        const n = `c${i.toString(36).padStart(5, '0')}`;
        const hsh = dirHash(bytes(n), version, vol.hashSeed).hash;
        const other = seen.get(hsh);
        if (other !== undefined) pair = [other, n];
        else { seen.set(hsh, n); pool.push({ name: n, hash: hsh }); }
      }
      const hp = dirHash(bytes(pair[0]), version, vol.hashSeed).hash;
      // Block 0 holds "." and ".." and `count` records of 16 bytes; where would the kernel split them?
      const count = Math.floor((usable - 24) / 16);
      const synthetic = Array.from({ length: count }, (_, i): SplitEntry => ({ hash: i * 2, off: i * 16, size: i === count - 1 ? usable - 16 * (count - 1) : 16, packed: 16 }));
      const k = chooseSplit(synthetic, bs, usable, 0, 16).split;
      // Put the pair at sorted positions k-1 and k.
      const below = pool.filter((e) => e.hash < hp).slice(0, k - 1);
      const above = pool.filter((e) => e.hash > hp).slice(0, count - k - 1);
      assert.equal(below.length + above.length + 2, count);
      const inOrder = [...below.sort((a, b) => a.hash - b.hash).map((e) => e.name), ...pair, ...above.sort((a, b) => a.hash - b.hash).map((e) => e.name)];
      const dir = makeDir(vol, h, vol.inodes.get(2), 'split');
      const f = newFile(vol, h, dir.ino);
      const want = new Map<string, number>();
      for (const n of inOrder) { assert.equal(addEntry(vol, h, dir, bytes(n), f.ino, FT.REG_FILE), 0); want.set(n, f.ino); }
      assert.equal(dir.size, bs, 'the block is full, not yet converted');
      assert.equal(addEntry(vol, h, dir, bytes('trigger'), f.ino, FT.REG_FILE), 0);
      want.set('trigger', f.ino);
      setLinks(vol, h, f, want.size);
      const info = rootInfo(vol, dir);
      assert.equal(info.count, 2);
      const root = vol.cache.get(runAt(vol, dir, 0).physical);
      const hash1 = viewOf(root).getUint32(info.countOffset + 8, true);
      assert.equal(hash1 & 1, 0, 'no collision bit');
      // The kernel would have split between the two; here they share a leaf.
      const leafOf = (name: string): number => {
        for (const lblk of [1, 2]) {
          let hit = false;
          const b = vol.cache.get(runAt(vol, dir, lblk).physical);
          const dv = viewOf(b);
          for (let off = 0; off < vol.blockSize; off += dv.getUint16(off + 4, true)) {
            if (dv.getUint32(off, true) !== 0 && dec.decode(b.subarray(off + 8, off + 8 + b[off + 6]!)) === name) hit = true;
          }
          if (hit) return lblk;
        }
        return -1;
      };
      assert.ok(leafOf(pair[0]) > 0);
      assert.equal(leafOf(pair[0]), leafOf(pair[1]), 'the pair shares a leaf');
      return want;
    });
    fsckClean(img, `a collision-avoiding split on ${image}`);
    await checkListing(img, '/split', want);
  }
});

test('an index entry with the collision bit: lookups, removal and the kernel continue into the next leaf', { skip: !TOOLS }, async () => {
  const img = freshCopy('ext4-1k');
  let first = '';
  const want = withVolume(img, (vol, h) => {
    const dir = makeDir(vol, h, vol.inodes.get(2), 'cont');
    const f = newFile(vol, h, dir.ino);
    const want = new Map<string, number>();
    for (let i = 0; !isIndexed(vol, dir); i++) {
      assert.equal(addEntry(vol, h, dir, bytes(`name-${i}`), f.ino, FT.REG_FILE), 0);
      want.set(`name-${i}`, f.ino);
    }
    setLinks(vol, h, f, want.size);
    // The lowest hash of the second leaf is the one in the index; mark it "continued".
    const info = rootInfo(vol, dir);
    const rootPhys = runAt(vol, dir, 0).physical;
    const w = h.getWrite(rootPhys);
    const dv = viewOf(w);
    const hash1 = dv.getUint32(info.countOffset + 8, true);
    const leaf2 = dv.getUint32(info.countOffset + 12, true);
    const version = effectiveHashVersion(vol, info.hashVersion)!;
    for (const n of want.keys()) if (dirHash(bytes(n), version, vol.hashSeed).hash === hash1) first = n;
    assert.ok(first !== '');
    dv.setUint32(info.countOffset + 8, hash1 | 1, true);
    setDxChecksum(vol, dir, w, info.countOffset);
    h.dirty(rootPhys, w);
    assert.ok(leaf2 > 0);
    return want;
  });
  fsckClean(img, 'setting the collision bit');
  await checkListing(img, '/cont', want); // every name found through the index, ours and the kernel's
  if (KERNEL) await withLoopMount(img, (mnt) => { statSync(join(mnt, 'cont', first)); });
  withVolume(img, (vol, h) => {
    const dir = dirOf(vol, '/cont');
    const ino = want.get(first)!;
    assert.equal(replaceEntry(vol, h, dir, bytes(first), ino, FT.REG_FILE), ino);
    assert.equal(removeEntry(vol, h, dir, bytes(first)), ino);
    want.delete(first);
    setLinks(vol, h, vol.inodes.get(ino), want.size);
    assert.equal(addEntry(vol, h, dir, bytes(first), ino, FT.REG_FILE), 0);
    want.set(first, ino);
    setLinks(vol, h, vol.inodes.get(ino), want.size);
  });
  fsckClean(img, 'remove and re-add across the continued boundary');
  await checkListing(img, '/cont', want);
});

test('chooseSplit: the kernel rule, runs of equal hashes kept together, the collision bit when they cannot be', () => {
  const e = (hash: number, i: number): SplitEntry => ({ hash, off: i * 100, size: 100, packed: 100 });
  // Distinct hashes: half the block's worth moves up (kernel rule).
  const distinct = Array.from({ length: 10 }, (_, i) => e(i * 10, i));
  assert.deepEqual(chooseSplit(distinct, 1024, 1012, 0, 100), { split: 5, continued: false });
  // A run 40,40,40 across the split point moves the split to the run's edge.
  const run = [0, 10, 20, 40, 40, 40, 60, 70, 80, 90].map(e);
  const s = chooseSplit(run, 1024, 1012, 0, 100);
  assert.equal(s.continued, false);
  assert.ok(s.split === 3 || s.split === 6, `split at ${s.split}`);
  // One hash for the whole block: split anyway, with the collision bit.
  const same = Array.from({ length: 10 }, (_, i) => e(42, i));
  assert.deepEqual(chooseSplit(same, 1024, 1012, 42, 100), { split: 5, continued: true });
});

test('a directory created here is a block directory even with inline_data', { skip: !TOOLS }, () => {
  const img = freshCopy('ext4-inline');
  withVolume(img, (vol, h) => {
    const d = makeDir(vol, h, vol.inodes.get(2), 'fresh');
    assert.ok(!isInline(d));
    assert.equal(d.size, vol.blockSize);
    assert.equal(d.mode & 0o170000, S_IFDIR);
    assert.ok(isEmptyDir(vol, d));
  });
  fsckClean(img, 'mkdir on ext4-inline');
});

// Long runs (DIR_WRITE_LONG=1): the index-full limit without large_dir, and a third level with it.
const LONG = process.env.DIR_WRITE_LONG === '1';
for (const largeDir of [false, true]) {
  test(`htree depth limit ${largeDir ? 'with large_dir: a third level' : 'without large_dir: -ENOSPC'}`, { skip: !TOOLS || !LONG }, () => {
    const dirTmp = mkdtempSync(join(tmpdir(), 'dw-'));
    try {
      const img = join(dirTmp, 'deep.img');
      mke2fs(['-q', '-t', 'ext4', '-b', '1024', '-N', '4096', '-O', largeDir ? 'large_dir,^has_journal' : '^has_journal', img, largeDir ? '96M' : '64M']);
      let n = 0;
      withVolume(img, (vol, h) => {
        const dir = makeDir(vol, h, vol.inodes.get(2), 'x');
        const pool = Array.from({ length: 8 }, () => newFile(vol, h, dir.ino));
        for (;;) {
          const r = addEntry(vol, h, dir, bytes(longName(n)), pool[n % 8]!.ino, FT.REG_FILE);
          if (r !== 0) { assert.equal(r, -Errno.ENOSPC); break; }
          n++;
          if (largeDir && n % 1000 === 0 && isIndexed(vol, dir) && rootInfo(vol, dir).indirectLevels === 2) break;
        }
        for (let i = 0; i < 8; i++) setLinks(vol, h, pool[i]!, Math.floor(n / 8) + (i < n % 8 ? 1 : 0));
        assert.equal(rootInfo(vol, dir).indirectLevels, largeDir ? 2 : 1);
      });
      fsckClean(img, `${n} names`);
    } finally {
      rmSync(dirTmp, { recursive: true, force: true });
    }
  });
}
