// ACL conversion: byte fixtures, validation, and real images (setfacl on a
// staging tree → mkfs.ext4 -d → our parse vs the kernel's getfattr on a loop mount,
// plus an ACL written by the kernel itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_UNDEFINED_ID, ACL_USER, ACL_USER_OBJ,
  aclDiskToXattr, aclXattrToDisk, aclModeBits, aclValid, encodeDiskAcl, encodeXattrAcl, parseDiskAcl, parseXattrAcl,
  type AclEntry,
} from '../../src/ext2/acl.js';
import { parseInodeXattrs, parseXattrBlock } from '../../src/ext2/xattr-codec.js';
import { CorruptionError } from '../../src/ext2/errors.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const U = ACL_UNDEFINED_ID;

// u::rw-, u:1000:r--, g::r--, g:50:rwx, m::rwx, o::---
const ENTRIES: AclEntry[] = [
  { tag: ACL_USER_OBJ, perm: 6, id: U }, { tag: ACL_USER, perm: 4, id: 1000 }, { tag: ACL_GROUP_OBJ, perm: 4, id: U },
  { tag: ACL_GROUP, perm: 7, id: 50 }, { tag: ACL_MASK, perm: 7, id: U }, { tag: ACL_OTHER, perm: 0, id: U },
];
const DISK = hex('01000000 01000600 02000400e8030000 04000400 0800070032000000 10000700 20000000');
const XATTR = hex('02000000 01000600ffffffff 02000400e8030000 04000400ffffffff 0800070032000000 10000700ffffffff 20000000ffffffff');

test('byte fixtures both ways', () => {
  assert.deepEqual(parseDiskAcl(DISK), ENTRIES);
  assert.deepEqual(encodeDiskAcl(ENTRIES), DISK);
  assert.deepEqual(parseXattrAcl(XATTR), ENTRIES);
  assert.deepEqual(encodeXattrAcl(ENTRIES), XATTR);
  assert.deepEqual(aclDiskToXattr(DISK), XATTR);
  assert.deepEqual(aclXattrToDisk(XATTR), DISK);
  // Minimal ACL (3 short entries) and an empty one.
  const min = hex('01000000 01000700 04000500 20000400');
  assert.deepEqual(parseDiskAcl(min).map((e) => e.tag), [ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER]);
  assert.equal(aclDiskToXattr(hex('01000000')), null);
  assert.deepEqual(aclXattrToDisk(hex('02000000')), new Uint8Array(0));
  // Short-tag ids in userspace input are ignored (e2fsprogs writes 0 there).
  assert.deepEqual(aclXattrToDisk(hex('02000000 01000600 00000000 04000400 00000000 20000000 00000000')), hex('01000000 01000600 04000400 20000000'));
});

test('bad on-disk ACLs throw CorruptionError(xattr) with context', () => {
  const bad = [
    hex('0100'), // short
    hex('02000000 01000600 04000400 20000000'), // version
    hex('01000000 01000600 04000400 20000000 00'), // size
    hex('01000000 01000600 40000400 20000000'), // unknown tag
    hex('01000000 02000600e8030000 20000000'), // 12 bytes: kernel count says 3 short entries → walk overruns
    hex('01000000 01000600 04000400 10000700 20000000 20000000 20000000'), // 6 short: count mismatch
  ];
  for (const b of bad) {
    assert.throws(() => parseDiskAcl(b, { ino: 12 }), (e: unknown) => e instanceof CorruptionError && e.kind === 'xattr' && e.context.ino === 12, Buffer.from(b).toString('hex'));
  }
});

test('invalid userspace ACLs give null (EINVAL)', () => {
  const x = (entries: [number, number, number][]) => encodeXattrAcl(entries.map(([tag, perm, id]) => ({ tag, perm, id })));
  assert.equal(parseXattrAcl(hex('0200')), null);
  assert.equal(parseXattrAcl(hex('01000000 01000600ffffffff')), null); // version
  assert.equal(parseXattrAcl(hex('02000000 01000600ffffffff 00')), null); // size
  assert.equal(parseXattrAcl(x([[ACL_USER_OBJ, 6, U], [ACL_OTHER, 0, U]])), null); // no GROUP_OBJ
  assert.equal(parseXattrAcl(x([[ACL_USER_OBJ, 6, U], [ACL_USER, 6, 5], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 0, U]])), null); // needs mask
  assert.equal(parseXattrAcl(x([[ACL_GROUP_OBJ, 4, U], [ACL_USER_OBJ, 6, U], [ACL_OTHER, 0, U]])), null); // order
  assert.equal(parseXattrAcl(x([[ACL_USER_OBJ, 8, U], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 0, U]])), null); // perm
  assert.equal(parseXattrAcl(x([[ACL_USER_OBJ, 6, U], [ACL_USER, 6, U], [ACL_GROUP_OBJ, 4, U], [ACL_MASK, 6, U], [ACL_OTHER, 0, U]])), null); // id -1
  assert.equal(parseXattrAcl(x([[ACL_USER_OBJ, 6, U], [0x40, 4, U], [ACL_OTHER, 0, U]])), null); // tag
  assert.equal(aclXattrToDisk(x([[ACL_USER_OBJ, 6, U], [ACL_OTHER, 0, U]])), null);
  assert.ok(aclValid(ENTRIES));
});

test('aclModeBits (posix_acl_equiv_mode)', () => {
  assert.deepEqual(aclModeBits(ENTRIES), { mode: 0o670, equivalent: false });
  assert.deepEqual(aclModeBits(parseDiskAcl(hex('01000000 01000700 04000500 20000400'))), { mode: 0o754, equivalent: true });
});

// --- real images -----------------------------------------------------------------

const have = (cmd: string, arg = '--version') => !spawnSync(cmd, [arg]).error;

/** All xattrs of `file` in an image, parsed our way (ibody + block). */
function imageXattrs(path: string, file: string) {
  const bytes = readFileSync(path);
  const sb = bytes.subarray(1024, 2048);
  const bs = 1024 << sb.readUInt32LE(0x18);
  const isz = sb.readUInt16LE(0x58);
  const out = execFileSync('debugfs', ['-R', `imap ${file}`, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out)!;
  const inode = bytes.subarray(Number(m[1]) * bs + parseInt(m[2]!, 16)).subarray(0, isz);
  const all = parseInodeXattrs(inode.subarray(128 + inode.readUInt16LE(0x80)), 0);
  const blk = inode.readUInt32LE(0x68);
  if (blk) all.push(...parseXattrBlock(bytes.subarray(blk * bs, (blk + 1) * bs), blk));
  return new Map(all.map((e) => [e.fullName, Buffer.from(e.value!)]));
}

function getfattr(file: string, name: string): Buffer {
  return execFileSync('getfattr', ['--only-values', '-n', name, file], { stdio: ['ignore', 'pipe', 'ignore'] });
}

test('real image: mkfs.ext4 -d of setfacl\'d files vs kernel getfattr; kernel-written ACL vs our encoder', (t) => {
  if (!have('mkfs.ext4', '-V') || !have('debugfs', '-V') || !have('setfacl') || !have('getfattr')) return t.skip('e2fsprogs/acl/attr missing');
  if (process.getuid?.() !== 0) return t.skip('needs root for the loop mount');
  const dir = mkdtempSync(join(tmpdir(), 'acl-'));
  const stage = join(dir, 'stage');
  const mnt = join(dir, 'mnt');
  mkdirSync(join(stage, 'd'), { recursive: true });
  mkdirSync(mnt);
  writeFileSync(join(stage, 'f'), 'x');
  try {
    try {
      execFileSync('setfacl', ['-m', 'u:1000:r,u:1234:rwx,g:50:rw,g:4242:x,m::rwx,o::r', join(stage, 'f')], { stdio: 'ignore' });
      execFileSync('setfacl', ['-d', '-m', 'u:77:rw,g:88:r', join(stage, 'd')], { stdio: 'ignore' });
      execFileSync('setfacl', ['-m', 'u:99:r', join(stage, 'd')], { stdio: 'ignore' });
    } catch {
      return t.skip('staging filesystem lacks ACL support');
    }
    const path = join(dir, 'a.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', 'metadata_csum', '-d', stage, path, '8M'], { stdio: 'ignore' });
    const ours = { f: imageXattrs(path, '/f'), d: imageXattrs(path, '/d') };
    if (spawnSync('mount', ['-o', 'loop', path, mnt]).status !== 0) return t.skip('loop mount not available');
    let kernel: Record<string, Buffer>;
    try {
      kernel = {
        f: getfattr(join(mnt, 'f'), 'system.posix_acl_access'),
        dA: getfattr(join(mnt, 'd'), 'system.posix_acl_access'),
        dD: getfattr(join(mnt, 'd'), 'system.posix_acl_default'),
      };
      writeFileSync(join(mnt, 'k'), '');
      execFileSync('setfacl', ['-m', 'u:5:rw,u:6:r,g:7:x,m::rw', join(mnt, 'k')]);
      kernel.k = getfattr(join(mnt, 'k'), 'system.posix_acl_access');
    } finally {
      execFileSync('umount', [mnt]);
    }
    const pairs: [Buffer, Buffer][] = [
      [ours.f.get('system.posix_acl_access')!, kernel.f!],
      [ours.d.get('system.posix_acl_access')!, kernel.dA!],
      [ours.d.get('system.posix_acl_default')!, kernel.dD!],
      [imageXattrs(path, '/k').get('system.posix_acl_access')!, kernel.k!],
    ];
    for (const [disk, fromKernel] of pairs) {
      assert.ok(disk, 'ACL xattr present on disk');
      assert.deepEqual(Buffer.from(aclDiskToXattr(disk)!), fromKernel);
      assert.deepEqual(Buffer.from(aclXattrToDisk(fromKernel)!), disk);
    }
    assert.deepEqual(parseDiskAcl(ours.f.get('system.posix_acl_access')!).filter((e) => e.tag === ACL_USER).map((e) => e.id), [1000, 1234]);
    assert.deepEqual(parseDiskAcl(ours.f.get('system.posix_acl_access')!).filter((e) => e.tag === ACL_GROUP).map((e) => e.id), [50, 4242]);
  } finally {
    spawnSync('umount', [mnt]);
    rmSync(dir, { recursive: true, force: true });
  }
});
