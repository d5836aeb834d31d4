// xattr write path (src/ext2/xattr-write.ts). Every test changes a fresh image
// copy through our API, commits and closes it, then checks it with the oracles:
// `e2fsck -fn` must be clean and the kernel's own driver (loop mount, getfattr,
// getfacl) must read back exactly what we wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Volume } from '../../src/ext2/volume.js';
import { resolvePath } from '../../src/ext2/namei.js';
import type { Inode } from '../../src/ext2/inode.js';
import type { Handle } from '../../src/ext2/txn.js';
import { Errno } from '../../src/util/errno.js';
import { viewOf } from '../../src/util/struct.js';
import { blockXattrs, inodeXattrs, listXattrs } from '../../src/ext2/xattr.js';
import { inlineBytes } from '../../src/ext2/inline.js';
import {
  XATTR_CREATE, XATTR_REPLACE, getXattrValue, listXattrNames, removeXattr, setXattr, setXattrEntry,
} from '../../src/ext2/xattr-write.js';
import { freshCopy } from '../helpers/images.js';
import { e2fsck, debugfs, superblockFields, hasTool } from '../helpers/tools.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';

const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fill = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const KERNEL = canLoopMount() && hasTool('getfattr') && hasTool('getfacl');

function open(img: string): Volume {
  return Volume.open(img, { readOnly: false });
}
function node(vol: Volume, path: string): Inode {
  const ino = resolvePath(vol, path);
  assert.ok(ino > 0, `${path}: ${ino}`);
  return vol.inodes.get(ino);
}
function inTxn<T>(vol: Volume, fn: (h: Handle) => T): T {
  const h = vol.txn.begin();
  try { return fn(h); } finally { vol.txn.end(h); }
}
function closeAndCheck(vol: Volume, img: string): void {
  vol.sync();
  vol.close();
  const r = e2fsck(img);
  assert.equal(r.code, 0, `e2fsck -fn not clean:\n${r.output}`);
}
function refcount(vol: Volume, blk: number): number {
  return viewOf(vol.readMetaBlock(blk, 'xattr')).getUint32(4, true);
}
function freeBlocksOnDisk(img: string): number {
  return Number(superblockFields(img)['Free blocks']);
}

/** getfattr -d -m - -e hex on the kernel mount: name → hex value. */
function getfattr(mnt: string, path: string): Map<string, string> {
  const r = spawnSync('getfattr', ['-d', '-m', '-', '-h', '-e', 'hex', '--absolute-names', join(mnt, path)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) out.set(line, '');
    else out.set(line.slice(0, eq), line.slice(eq + 1).replace(/^0x/, ''));
  }
  return out;
}
function getfacl(mnt: string, path: string): string[] {
  const r = spawnSync('getfacl', ['-c', '-n', '-p', join(mnt, path)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}
async function kernelSees(img: string, path: string, want: Record<string, Uint8Array>): Promise<void> {
  if (!KERNEL) return;
  await withLoopMount(img, (mnt) => {
    const got = getfattr(mnt, path);
    const expect = new Map(Object.entries(want).map(([k, v]) => [k, hex(v)]));
    assert.deepEqual(new Map([...got].sort()), new Map([...expect].sort()), `kernel view of ${path}`);
  });
}
/** Our userspace view of an inode's xattrs (after reopening the image). */
function ourView(img: string, path: string): Record<string, Uint8Array> {
  const vol = Volume.open(img);
  try {
    const ino = node(vol, path);
    const out: Record<string, Uint8Array> = {};
    for (const n of listXattrNames(vol, ino)) {
      const v = getXattrValue(vol, ino, n);
      assert.ok(v instanceof Uint8Array, `${n}: ${String(v)}`);
      out[n] = v;
    }
    return out;
  } finally { vol.close(); }
}

/** POSIX ACL xattr: version 2, then (tag, perm, id) entries. */
function posixAcl(entries: [tag: number, perm: number, id?: number][]): Uint8Array {
  const b = new Uint8Array(4 + entries.length * 8);
  const dv = viewOf(b);
  dv.setUint32(0, 2, true);
  entries.forEach(([tag, perm, id], i) => {
    dv.setUint16(4 + i * 8, tag, true);
    dv.setUint16(6 + i * 8, perm, true);
    dv.setUint32(8 + i * 8, id ?? 0xffffffff, true);
  });
  return b;
}
const UO = 1, U = 2, GO = 4, G = 8, M = 0x10, O = 0x20;

// --- small values in the inode --------------------------------------------------

test('small values: set, replace, remove in the inode body (ext4)', async () => {
  const img = freshCopy('ext4');
  const vol = open(img);
  const f = node(vol, '/hello.txt');
  const blocks0 = f.blocks512;
  inTxn(vol, (h) => {
    assert.equal(setXattr(vol, h, f, 'user.a', enc('one'), 0), 0);
    assert.equal(setXattr(vol, h, f, 'user.b', enc('two'), 0), 0);
    assert.equal(setXattr(vol, h, f, 'security.s', enc(''), 0), 0);
    assert.equal(setXattr(vol, h, f, 'user.a', enc('replaced value'), XATTR_REPLACE), 0);
    assert.equal(removeXattr(vol, h, f, 'user.b'), 0);
    assert.equal(removeXattr(vol, h, f, 'user.b'), -Errno.ENODATA);
  });
  assert.equal(f.fileAcl, 0, 'no block needed');
  assert.equal(f.blocks512, blocks0);
  assert.deepEqual(inodeXattrs(vol, f).map((e) => e.fullName), ['user.a', 'security.s'], 'kernel order: appended, replaced in place');
  closeAndCheck(vol, img);
  const want = { 'user.a': enc('replaced value'), 'security.s': enc('') };
  assert.deepEqual(ourView(img, '/hello.txt'), want);
  await kernelSees(img, '/hello.txt', want);
});

// --- large values in the block --------------------------------------------------

for (const name of ['ext4', 'ext2-1k', 'ext3'] as const) {
  test(`large values go to the block; replace and remove it (${name})`, async () => {
    const img = freshCopy(name);
    const vol = open(img);
    const f = node(vol, '/hello.txt');
    const bs = vol.blockSize;
    const blocks0 = f.blocks512;
    const free0 = vol.alloc.freeBlocksTotal;
    const big = fill(bs / 2, 1);
    inTxn(vol, (h) => assert.equal(setXattr(vol, h, f, 'user.big', big, XATTR_CREATE), 0));
    assert.notEqual(f.fileAcl, 0);
    assert.equal(f.blocks512, blocks0 + bs / 512);
    assert.equal(vol.alloc.freeBlocksTotal, free0 - 1);
    assert.equal(refcount(vol, f.fileAcl), 1);
    const big2 = fill(bs - 200, 2);
    inTxn(vol, (h) => {
      assert.equal(setXattr(vol, h, f, 'user.big', big2, XATTR_REPLACE), 0);
      assert.equal(setXattr(vol, h, f, 'user.big', big2, XATTR_CREATE), -Errno.EEXIST);
    });
    closeAndCheck(vol, img);
    assert.deepEqual(ourView(img, '/hello.txt'), { 'user.big': big2 });
    await kernelSees(img, '/hello.txt', { 'user.big': big2 });

    const vol2 = open(img);
    const g = node(vol2, '/hello.txt');
    inTxn(vol2, (h) => assert.equal(removeXattr(vol2, h, g, 'user.big'), 0));
    assert.equal(g.fileAcl, 0);
    assert.equal(g.blocks512, blocks0);
    assert.equal(vol2.alloc.freeBlocksTotal, free0);
    closeAndCheck(vol2, img);
    await kernelSees(img, '/hello.txt', {});
  });
}

// --- overflow from the inode into the block, then remove everything ------------------

for (const name of ['ext4', 'ext2-1k', 'ext3'] as const) {
  test(`many attributes overflow the inode into the block, then all removed (${name})`, async () => {
    const img = freshCopy(name);
    const freeOnDisk0 = freeBlocksOnDisk(img);
    const vol = open(img);
    const f = node(vol, '/README.txt');
    const blocks0 = f.blocks512;
    const free0 = vol.alloc.freeBlocksTotal;
    const want: Record<string, Uint8Array> = {};
    const count = vol.blockSize === 1024 ? 16 : 40; // more than the inode holds, less than inode + block
    inTxn(vol, (h) => {
      for (let i = 0; i < count; i++) {
        const n = `${i % 3 === 0 ? 'trusted' : 'user'}.attr-${String(i).padStart(2, '0')}`;
        want[n] = fill(8 + i, i);
        assert.equal(setXattr(vol, h, f, n, want[n]!, 0), 0, n);
      }
    });
    const inInode = inodeXattrs(vol, f).length;
    const inBlock = blockXattrs(vol, f);
    if (vol.geo.inodeSize > 128) assert.ok(inInode > 0, 'some stay in the inode');
    assert.equal(inInode + inBlock.length, count);
    // the block is sorted as the kernel sorts it: (index, name length, name)
    const keys = inBlock.map((e) => [e.index, e.nameBytes.length, e.name] as const);
    const sorted = [...keys].sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
    assert.deepEqual(keys, sorted);
    closeAndCheck(vol, img);
    assert.deepEqual(ourView(img, '/README.txt'), want);
    await kernelSees(img, '/README.txt', want);

    const vol2 = open(img);
    const g = node(vol2, '/README.txt');
    inTxn(vol2, (h) => { for (const n of Object.keys(want)) assert.equal(removeXattr(vol2, h, g, n), 0, n); });
    assert.equal(listXattrs(vol2, g).length, 0);
    assert.equal(g.fileAcl, 0);
    assert.equal(g.blocks512, blocks0);
    assert.equal(vol2.alloc.freeBlocksTotal, free0);
    closeAndCheck(vol2, img);
    assert.equal(freeBlocksOnDisk(img), freeOnDisk0, 'free block count back to its start value');
    await kernelSees(img, '/README.txt', {});
  });
}

for (const name of ['ext4', 'ext2-1k'] as const) {
  test(`the kernel can go on changing what we wrote (${name})`, { skip: !KERNEL && 'needs loop mounts' }, async () => {
    const img = freshCopy(name);
    const vol = open(img);
    const f = node(vol, '/hello.txt');
    const want: Record<string, Uint8Array> = {};
    inTxn(vol, (h) => {
      for (let i = 0; i < 8; i++) {
        want[`user.k${i}`] = fill(40 + i * 10, i);
        assert.equal(setXattr(vol, h, f, `user.k${i}`, want[`user.k${i}`]!, 0), 0);
      }
    });
    closeAndCheck(vol, img);
    await withLoopMount(img, (mnt) => {
      const p = join(mnt, 'hello.txt');
      assert.equal(spawnSync('setfattr', ['-x', 'user.k3', p]).status, 0);
      assert.equal(spawnSync('setfattr', ['-n', 'user.k0', '-v', '0x0102', p]).status, 0);
      assert.equal(spawnSync('setfattr', ['-n', 'user.kernel', '-v', '0x' + hex(fill(300, 9)), p]).status, 0);
    }, { ro: false });
    const r = e2fsck(img);
    assert.equal(r.code, 0, r.output);
    delete want['user.k3'];
    want['user.k0'] = Uint8Array.of(1, 2);
    want['user.kernel'] = fill(300, 9);
    assert.deepEqual(ourView(img, '/hello.txt'), want);
  });
}

// --- errors -------------------------------------------------------------------------

test('flags, names and sizes: EEXIST, ENODATA, ERANGE, EINVAL, EOPNOTSUPP, E2BIG, ENOSPC', () => {
  const img = freshCopy('ext4');
  const vol = open(img);
  const f = node(vol, '/hello.txt');
  const bs = vol.blockSize;
  inTxn(vol, (h) => {
    assert.equal(setXattr(vol, h, f, 'user.x', enc('1'), XATTR_REPLACE), -Errno.ENODATA);
    assert.equal(setXattr(vol, h, f, 'user.x', enc('1'), XATTR_CREATE), 0);
    assert.equal(setXattr(vol, h, f, 'user.x', enc('2'), XATTR_CREATE), -Errno.EEXIST);
    assert.equal(setXattr(vol, h, f, 'user.x', enc('1'), XATTR_CREATE | XATTR_REPLACE), -Errno.EEXIST);
    assert.equal(setXattr(vol, h, f, 'user.' + 'n'.repeat(251), enc('v'), 0), -Errno.ERANGE);
    assert.equal(setXattr(vol, h, f, 'user.' + 'n'.repeat(250), enc('v'), 0), 0, '255-byte name is fine');
    assert.equal(setXattr(vol, h, f, 'user.', enc('v'), 0), -Errno.EINVAL);
    assert.equal(setXattr(vol, h, f, 'bogus.x', enc('v'), 0), -Errno.EOPNOTSUPP);
    assert.equal(setXattr(vol, h, f, 'system.data', enc('v'), 0), -Errno.EOPNOTSUPP);
    assert.equal(setXattr(vol, h, f, 'system.posix_acl_access', enc('junk'), 0), -Errno.EINVAL, 'not an ACL');
    assert.equal(setXattr(vol, h, f, 'system.posix_acl_access', posixAcl([[UO, 6], [O, 4]]), 0), -Errno.EINVAL, 'no group entry');
    assert.equal(setXattr(vol, h, f, 'system.posix_acl_access', posixAcl([[UO, 6], [U, 4, 5], [GO, 4], [O, 4]]), 0), -Errno.EINVAL, 'no mask');
    assert.equal(setXattr(vol, h, f, 'system.posix_acl_access', posixAcl([[UO, 9], [GO, 4], [O, 4]]), 0), -Errno.EINVAL, 'bad perm');
    assert.equal(removeXattr(vol, h, f, 'user.none'), -Errno.ENODATA);
    assert.equal(getXattrValue(vol, f, 'user.none'), -Errno.ENODATA);
    assert.equal(getXattrValue(vol, f, 'system.data'), -Errno.EOPNOTSUPP);
    // no ea_inode here: a value bigger than any block can never fit
    assert.equal(setXattr(vol, h, f, 'user.huge', new Uint8Array(bs), 0), -Errno.E2BIG);
    // fill the block, then one more that would fit alone: ENOSPC
    let i = 0;
    while (setXattr(vol, h, f, `user.fill${i}`, fill(bs / 8, i), 0) === 0) i++;
    assert.ok(i >= 6, `filled with ${i}`);
    assert.equal(setXattr(vol, h, f, `user.fill${i}`, fill(bs / 8, i), 0), -Errno.ENOSPC);
  });
  closeAndCheck(vol, img);
});

// --- a block shared by two inodes -------------------------------------------------

test('a shared xattr block (made by the kernel) is copied on write and released', { skip: !KERNEL && 'needs loop mounts' }, async () => {
  const img = freshCopy('ext4');
  const value = fill(1500, 7);
  // the kernel's mbcache gives identical xattr blocks one shared block
  await withLoopMount(img, (mnt) => {
    for (const p of ['/hello.txt', '/README.txt']) {
      const r = spawnSync('setfattr', ['-n', 'user.shared', '-v', `0x${hex(value)}`, join(mnt, p)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  }, { ro: false });
  const a0 = debugfs(img, 'stat /hello.txt');
  const shared = Number(/File ACL: (\d+)/.exec(a0)![1]);
  assert.ok(shared > 0);
  assert.match(debugfs(img, 'stat /README.txt'), new RegExp(`File ACL: ${shared}\\b`), 'debugfs: both inodes name one block');
  const freeOnDisk0 = freeBlocksOnDisk(img);

  const vol = open(img);
  const a = node(vol, '/hello.txt');
  const b = node(vol, '/README.txt');
  assert.equal(a.fileAcl, shared);
  assert.equal(refcount(vol, shared), 2);
  const aBlocks = a.blocks512;
  inTxn(vol, (h) => assert.equal(setXattr(vol, h, a, 'user.mine', enc('only on a'), 0), 0));
  // small values go to the inode body: the shared block is untouched
  assert.equal(a.fileAcl, shared);
  inTxn(vol, (h) => assert.equal(setXattr(vol, h, a, 'user.shared', fill(1600, 8), 0), 0));
  assert.notEqual(a.fileAcl, shared, 'copy on write');
  assert.equal(refcount(vol, a.fileAcl), 1);
  assert.equal(refcount(vol, shared), 1);
  assert.equal(b.fileAcl, shared);
  assert.equal(a.blocks512, aBlocks, 'one block before, one block after');
  closeAndCheck(vol, img);
  assert.equal(freeBlocksOnDisk(img), freeOnDisk0 - 1);
  await kernelSees(img, '/hello.txt', { 'user.mine': enc('only on a'), 'user.shared': fill(1600, 8) });
  await kernelSees(img, '/README.txt', { 'user.shared': value });

  // the other way: b removes its only attribute from a shared block (share again first)
  const vol2 = open(img);
  const a2 = node(vol2, '/hello.txt');
  const b2 = node(vol2, '/README.txt');
  inTxn(vol2, (h) => assert.equal(removeXattr(vol2, h, a2, 'user.shared'), 0));
  assert.equal(a2.fileAcl, 0);
  assert.equal(vol2.alloc.isBlockInUse(shared), true);
  inTxn(vol2, (h) => assert.equal(removeXattr(vol2, h, b2, 'user.shared'), 0));
  assert.equal(b2.fileAcl, 0);
  assert.equal(vol2.alloc.isBlockInUse(shared), false);
  closeAndCheck(vol2, img);
  assert.equal(freeBlocksOnDisk(img), freeOnDisk0 + 1);
  await kernelSees(img, '/hello.txt', { 'user.mine': enc('only on a') });
  await kernelSees(img, '/README.txt', {});
});

test('a shared block with refcount 2 (built with our API) drops to one holder when one inode leaves it (ext2-1k)', async () => {
  const img = freshCopy('ext2-1k');
  const vol = open(img);
  const a = node(vol, '/hello.txt');
  const b = node(vol, '/README.txt');
  inTxn(vol, (h) => assert.equal(setXattr(vol, h, a, 'user.s', fill(300, 3), 0), 0));
  const blk = a.fileAcl;
  // share it the way the kernel's mbcache would: b names the block, refcount 2
  inTxn(vol, (h) => {
    const buf = h.getWrite(blk);
    viewOf(buf).setUint32(4, 2, true);
    h.dirty(blk, buf);
    b.fileAcl = blk;
    b.blocks512 += vol.blockSize / 512;
    vol.writeInode(h, b);
  });
  closeAndCheck(vol, img);
  const vol2 = open(img);
  const b2 = node(vol2, '/README.txt');
  inTxn(vol2, (h) => assert.equal(setXattr(vol2, h, b2, 'user.t', enc('tt'), 0), 0));
  assert.notEqual(b2.fileAcl, blk);
  assert.equal(refcount(vol2, blk), 1);
  closeAndCheck(vol2, img);
  await kernelSees(img, '/hello.txt', { 'user.s': fill(300, 3) });
  await kernelSees(img, '/README.txt', { 'user.s': fill(300, 3), 'user.t': enc('tt') });
});

// --- ACLs ---------------------------------------------------------------------------

test('ACLs: stored in ext4 form, read back in POSIX form; the image\'s ACLs read as the kernel shows them', () => {
  const img0 = freshCopy('ext4');
  const vol0 = open(img0);
  const f0 = node(vol0, '/hello.txt');
  const x = posixAcl([[UO, 6], [U, 4, 1000], [GO, 4], [G, 5, 100], [M, 5], [O, 4]]);
  inTxn(vol0, (h) => assert.equal(setXattr(vol0, h, f0, 'system.posix_acl_access', x, 0), 0));
  const raw = inodeXattrs(vol0, f0).find((e) => e.index === 2)!.value!;
  assert.equal(raw.length, 4 + 4 + 8 + 4 + 8 + 4 + 4, 'ext4 on-disk form: short entries without ids');
  assert.equal(viewOf(raw).getUint32(0, true), 1, 'EXT4_ACL_VERSION');
  assert.deepEqual(getXattrValue(vol0, f0, 'system.posix_acl_access'), x);
  closeAndCheck(vol0, img0);
  // the image's ACL (made by setfacl + mke2fs -d) reads back as getfattr shows it
  const img = freshCopy('ext4');
  const vol = Volume.open(img);
  const v = getXattrValue(vol, node(vol, '/acl/file'), 'system.posix_acl_access');
  assert.ok(v instanceof Uint8Array);
  assert.deepEqual(v, posixAcl([[UO, 6], [U, 6, 1000], [GO, 4], [G, 4, 100], [M, 6], [O, 4]]));
  assert.ok(listXattrNames(vol, node(vol, '/acl/dir')).includes('system.posix_acl_default'));
  vol.close();
});

for (const name of ['ext4', 'ext3', 'ext2-1k'] as const) {
  test(`ACLs set in POSIX form are what getfacl shows on the kernel mount (${name})`, async () => {
    const img = freshCopy(name);
    const vol = open(img);
    const f = node(vol, '/hello.txt'); // mode 0644
    const d = node(vol, '/dir'); // a directory, 0755
    const access = posixAcl([[UO, 6], [U, 4, 1000], [GO, 4], [G, 4, 100], [M, 4], [O, 4]]);
    const dflt = posixAcl([[UO, 7], [U, 5, 1001], [GO, 5], [M, 5], [O, 0]]);
    inTxn(vol, (h) => {
      assert.equal(setXattr(vol, h, f, 'system.posix_acl_access', access, 0), 0);
      assert.equal(setXattr(vol, h, d, 'system.posix_acl_access', posixAcl([[UO, 7], [U, 5, 2000], [GO, 5], [M, 5], [O, 5]]), 0), 0);
      assert.equal(setXattr(vol, h, d, 'system.posix_acl_default', dflt, 0), 0);
    });
    assert.deepEqual(getXattrValue(vol, f, 'system.posix_acl_access'), access);
    closeAndCheck(vol, img);
    if (!KERNEL) return;
    await withLoopMount(img, (mnt) => {
      assert.deepEqual(getfacl(mnt, '/hello.txt'), ['user::rw-', 'user:1000:r--', 'group::r--', 'group:100:r--', 'mask::r--', 'other::r--']);
      assert.deepEqual(getfacl(mnt, '/dir'), [
        'user::rwx', 'user:2000:r-x', 'group::r-x', 'mask::r-x', 'other::r-x',
        'default:user::rwx', 'default:user:1001:r-x', 'default:group::r-x', 'default:mask::r-x', 'default:other::---',
      ]);
      assert.equal(getfattr(mnt, '/hello.txt').get('system.posix_acl_access'), hex(access));
    });
    // and an empty ACL removes it
    const vol2 = open(img);
    const f2 = node(vol2, '/hello.txt');
    inTxn(vol2, (h) => assert.equal(setXattr(vol2, h, f2, 'system.posix_acl_access', posixAcl([]), 0), 0));
    assert.equal(getXattrValue(vol2, f2, 'system.posix_acl_access'), -Errno.ENODATA);
    closeAndCheck(vol2, img);
  });
}

// --- ea_inode -------------------------------------------------------------------------

test('ea_inode: large values are written to EA inodes, replaced and freed (ext4-xattr)', async () => {
  const img = freshCopy('ext4-xattr');
  const vol = open(img);
  const free0 = vol.alloc.freeBlocksTotal;
  const ifree0 = vol.alloc.freeInodesTotal;
  const huge = node(vol, '/ea/huge');
  const oldEa = inodeXattrs(vol, huge)[0]!.valueInum!;
  assert.ok(oldEa > 0);
  const big = fill(20000, 5);
  const blocksHuge = huge.blocks512;
  inTxn(vol, (h) => assert.equal(setXattr(vol, h, huge, 'user.huge', big, XATTR_REPLACE), 0));
  const newEa = inodeXattrs(vol, huge)[0]!.valueInum!;
  assert.ok(newEa > 0 && vol.alloc.isInodeInUse(newEa));
  assert.notEqual(newEa, oldEa);
  assert.equal(vol.alloc.isInodeInUse(oldEa), false, 'old EA inode freed');
  assert.equal(huge.blocks512, blocksHuge - 32 + 40, 'owner charged the value blocks (4 → 5)');
  assert.equal(vol.alloc.freeBlocksTotal, free0 - 1);

  const two = node(vol, '/ea/two');
  const small = node(vol, '/xattr/inode-small');
  inTxn(vol, (h) => {
    assert.equal(removeXattr(vol, h, two, 'user.first'), 0);
    assert.equal(setXattr(vol, h, small, 'user.large', fill(30000, 6), 0), 0);
    // too big for the block but not above EXT4_XATTR_MIN_LARGE_EA_SIZE: the retry puts it in an EA inode
    assert.equal(setXattr(vol, h, small, 'user.fill1', fill(3000, 1), 0), 0);
    assert.equal(setXattr(vol, h, small, 'user.fill2', fill(3000, 2), 0), 0);
  });
  assert.equal(vol.alloc.freeInodesTotal, ifree0 - 1, 'huge: one for one; first freed; large and fill2 new');
  closeAndCheck(vol, img);
  const vHuge = ourView(img, '/ea/huge');
  assert.deepEqual(vHuge['user.huge'], big);
  const vSmall = ourView(img, '/xattr/inode-small');
  assert.deepEqual(vSmall['user.large'], fill(30000, 6));
  assert.deepEqual(vSmall['user.fill2'], fill(3000, 2));
  await kernelSees(img, '/ea/huge', { 'user.huge': big });
  await kernelSees(img, '/xattr/inode-small', vSmall);
  await kernelSees(img, '/ea/two', ourView(img, '/ea/two'));

  // remove them all: every EA inode and block we made goes away
  const vol2 = open(img);
  for (const [p, names] of [['/ea/huge', ['user.huge']], ['/xattr/inode-small', ['user.large', 'user.fill1', 'user.fill2']]] as const) {
    const n = node(vol2, p);
    inTxn(vol2, (h) => { for (const x of names) assert.equal(removeXattr(vol2, h, n, x), 0, x); });
  }
  closeAndCheck(vol2, img);
  const vol3 = Volume.open(img);
  // /ea/huge's 16 KiB value (4 blocks) and /ea/two's first value (3 blocks + inode) are gone for good
  assert.equal(vol3.alloc.freeInodesTotal, ifree0 + 2);
  assert.equal(vol3.alloc.freeBlocksTotal, free0 + 4 + 3);
  vol3.close();
});

// --- inline data -------------------------------------------------------------------------

test('inline data: system.data stays in the inode while user xattrs spill to the block (ext4-inline)', async () => {
  const img = freshCopy('ext4-inline');
  const vol = open(img);
  const f = node(vol, '/inline/hundred');
  const content = inlineBytes(vol, f).slice(0, f.size);
  const want: Record<string, Uint8Array> = {};
  inTxn(vol, (h) => {
    for (let i = 0; i < 6; i++) {
      want[`user.i${i}`] = fill(24, i);
      assert.equal(setXattr(vol, h, f, `user.i${i}`, want[`user.i${i}`]!, 0), 0);
    }
    // the raw level never moves system.data out of the inode
    assert.equal(setXattrEntry(vol, h, f, 7, enc('data'), new Uint8Array(200), 0), -Errno.E2BIG);
  });
  assert.ok(inodeXattrs(vol, f).some((e) => e.index === 7 && e.name === 'data'), 'system.data in the inode');
  assert.notEqual(f.fileAcl, 0, 'user xattrs spilled to the block');
  assert.ok(!listXattrNames(vol, f).includes('system.data'));
  assert.deepEqual(inlineBytes(vol, f).slice(0, f.size), content);
  closeAndCheck(vol, img);
  if (!KERNEL) return;
  await kernelSees(img, '/inline/hundred', want);
  await withLoopMount(img, (mnt) => assert.deepEqual(new Uint8Array(readFileSync(join(mnt, 'inline/hundred'))), content));
});
