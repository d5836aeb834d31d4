// -o errors=: what damage met while serving does (ext4_error's policies), at the bridge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { Filesystem } from '../../src/ext2/fs.js';
import { CorruptionError } from '../../src/ext2/errors.js';
import { resolvePath } from '../../src/ext2/namei.js';
import { runAt } from '../../src/ext2/file.js';
import { Ext2Ops } from '../../src/bridge/ext2-ops.js';
import { Errno } from '../../src/util/errno.js';
import type { EntryOut, RequestContext } from '../../src/fuse/ops.js';
import { freshCopy } from '../helpers/images.js';

const enc = new TextEncoder();

/** A copy of ext4 whose /dir first directory block has rec_len 0 in its first record. */
function damagedImage(): { path: string; dirIno: number } {
  const path = freshCopy('ext4');
  const fs = Filesystem.open(path, { readOnly: true });
  const dirIno = resolvePath(fs.vol, '/dir');
  assert.ok(dirIno > 0, 'the ext4 image has /dir');
  const blk = runAt(fs.vol, fs.vol.inodes.get(dirIno), 0).physical;
  const bs = fs.vol.blockSize;
  fs.close();
  const img = readFileSync(path);
  img.writeUInt16LE(0, blk * bs + 4);
  writeFileSync(path, img);
  return { path, dirIno };
}

function entryOut(): EntryOut {
  return { nodeid: 0, generation: 0, entryTimeout: 1, attrTimeout: 1, attr: {
    ino: 0, size: 0, blocks: 0, atime: 0, atimeNsec: 0, mtime: 0, mtimeNsec: 0, ctime: 0, ctimeNsec: 0,
    mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0 } };
}

const ctx = (nodeid: number): RequestContext => ({ opcode: 1, unique: 2, nodeid, uid: 0, gid: 0, pid: 1 });

test('errors=remount-ro: damage met by a lookup stops all writing; the image keeps its last commit', () => {
  const { path, dirIno } = damagedImage();
  const fs = Filesystem.open(path, { readOnly: false, checksums: 'warn' });
  const ops = new Ext2Ops(fs, { errors: 'remount-ro' });
  assert.equal(ops.mkdir(ctx(1), enc.encode('before'), 0o755, 0, entryOut()), 0, 'writes work before the damage is met');
  const before = readFileSync(path);
  assert.throws(() => ops.lookup(ctx(dirIno), enc.encode('x'), entryOut()), (e: unknown) => e instanceof CorruptionError && e.kind === 'dirent');
  assert.equal(fs.readOnly, true, 'the volume went read-only');
  assert.equal(ops.mkdir(ctx(1), enc.encode('after'), 0o755, 0, entryOut()), Errno.EROFS);
  ops.destroy();
  assert.deepEqual(readFileSync(path), before, 'nothing was written after the damage (the running transaction was dropped)');
});

test('errors=continue (the image default): the operation fails with the damage, writing goes on', () => {
  const { path, dirIno } = damagedImage();
  const fs = Filesystem.open(path, { readOnly: false, checksums: 'warn' });
  const ops = new Ext2Ops(fs, {});
  assert.equal(ops.errorPolicy, 'continue', 'mkfs.ext4 images say s_errors=continue');
  assert.throws(() => ops.lookup(ctx(dirIno), enc.encode('x'), entryOut()), CorruptionError);
  assert.equal(fs.readOnly, false);
  assert.equal(ops.mkdir(ctx(1), enc.encode('after'), 0o755, 0, entryOut()), 0);
  ops.destroy();
});
