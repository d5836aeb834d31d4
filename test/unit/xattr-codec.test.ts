// xattr block / in-inode codec: round trips, corruption, and real images made by
// mkfs.ext4 -d (e2fsprogs writer), debugfs ea_set (ea_inode), and the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  parseXattrBlock, parseInodeXattrs, encodeXattrBlock, encodeInodeXattrs, xattrEntryHash, xattrEntryHashEaInode,
  xattrBlockHash, xattrBlockChecksum, eaInodeHash, splitXattrName, xattrFullName, type XattrEntry, type XattrInput,
} from '../../src/ext2/xattr-codec.js';
import { CorruptionError } from '../../src/ext2/errors.js';
import { crc32cLe } from '../../src/util/crc32c.js';

const enc = (s: string) => new TextEncoder().encode(s);
const have = (cmd: string, arg = '-V') => !spawnSync(cmd, [arg]).error;
const E2FS = have('mkfs.ext4') && have('debugfs');

function sameEntries(got: XattrEntry[], want: XattrInput[]) {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => {
    const g = got[i]!;
    assert.equal(g.index, w.index);
    assert.deepEqual(g.nameBytes, w.nameBytes ?? enc(w.name ?? ''));
    assert.deepEqual(g.value, w.value ?? new Uint8Array(0));
  });
}

// --- names ---------------------------------------------------------------------

test('splitXattrName / xattrFullName', () => {
  assert.deepEqual(splitXattrName('user.foo'), { index: 1, nameBytes: enc('foo') });
  assert.deepEqual(splitXattrName('system.posix_acl_access'), { index: 2, nameBytes: enc('') });
  assert.deepEqual(splitXattrName('system.posix_acl_default'), { index: 3, nameBytes: enc('') });
  assert.deepEqual(splitXattrName('system.data'), { index: 7, nameBytes: enc('data') });
  assert.deepEqual(splitXattrName('security.selinux'), { index: 6, nameBytes: enc('selinux') });
  assert.deepEqual(splitXattrName(enc('trusted.x')), { index: 4, nameBytes: enc('x') });
  assert.equal(splitXattrName('user.'), null);
  assert.equal(splitXattrName('bogus.x'), null);
  assert.equal(splitXattrName('user.' + 'a'.repeat(256)), null);
  assert.equal(xattrFullName(1, 'foo'), 'user.foo');
  assert.equal(xattrFullName(2, ''), 'system.posix_acl_access');
  assert.equal(xattrFullName(99, 'x'), '');
});

// --- hashes --------------------------------------------------------------------

test('entry hash: name then value words, signed variant differs only on high bytes', () => {
  // Hand-computed: name "a" → 0x61; value "s1" → word 0x00003173.
  assert.equal(xattrEntryHash(enc('a'), new Uint8Array(0)), 0x61);
  assert.equal(xattrEntryHash(enc('a'), enc('s1')), ((0x61 << 16) ^ 0x3173) >>> 0);
  assert.equal(xattrEntryHash(enc('abc'), enc('v'), true), xattrEntryHash(enc('abc'), enc('v')));
  assert.notEqual(xattrEntryHash(enc('café'), enc('v'), true), xattrEntryHash(enc('café'), enc('v')));
  assert.equal(xattrEntryHashEaInode(enc('a'), 0x12345678), ((0x61 << 16) ^ 0x12345678) >>> 0);
});

// --- round trips -----------------------------------------------------------------

const arbEntry = fc.record({
  index: fc.constantFrom(1, 2, 3, 4, 6, 7),
  nameBytes: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => b.map((x) => x || 1)),
  value: fc.uint8Array({ maxLength: 300 }),
});
const uniq = (l: XattrInput[]) => {
  const seen = new Set<string>();
  return l.filter((e) => {
    const k = `${e.index}:${Buffer.from(e.nameBytes!).toString('hex')}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
};

test('block round trip: sorted by (index, name_len, name), values intact, hashes set', () => {
  fc.assert(
    fc.property(fc.array(arbEntry, { maxLength: 12 }).map(uniq), fc.constantFrom(1024, 4096), (entries, bs) => {
      const block = encodeXattrBlock(entries, bs);
      const need = 32 + 4 + entries.reduce((s, e) => s + ((e.nameBytes!.length + 19) & ~3) + ((e.value!.length + 3) & ~3), 0);
      if (block === null) return assert.ok(need > bs, `fits (${need} <= ${bs}) but encoder said no`);
      assert.ok(need <= bs);
      const got = parseXattrBlock(block, 7);
      const sorted = [...entries].sort((a, b) => a.index - b.index || a.nameBytes!.length - b.nameBytes!.length || Buffer.compare(a.nameBytes!, b.nameBytes!));
      sameEntries(got, sorted);
      for (const e of got) assert.equal(e.hash, xattrEntryHash(e.nameBytes, e.value!));
      assert.equal(new DataView(block.buffer).getUint32(12, true), xattrBlockHash(block));
    }),
    { numRuns: 200 },
  );
});

test('inode round trip: caller order, e_hash 0, null when too big', () => {
  fc.assert(
    fc.property(fc.array(arbEntry, { maxLength: 5 }).map(uniq), fc.constantFrom(96, 256, 412), (entries, size) => {
      const region = encodeInodeXattrs(entries, size);
      if (region === null) return;
      const got = parseInodeXattrs(region, 12);
      sameEntries(got, entries);
      for (const e of got) assert.equal(e.hash, 0);
    }),
    { numRuns: 200 },
  );
  assert.equal(encodeInodeXattrs([{ index: 1, name: 'x', value: new Uint8Array(100) }], 96), null);
  assert.deepEqual(encodeInodeXattrs([], 96), new Uint8Array(96));
  assert.deepEqual(parseInodeXattrs(new Uint8Array(96), 12), []);
});

test('ea_inode references round trip (no value bytes, caller hash kept)', () => {
  const h = xattrEntryHashEaInode(enc('huge'), 0xabcdef01);
  const block = encodeXattrBlock([{ index: 1, name: 'huge', valueInum: 13, valueSize: 70000, hash: h }, { index: 1, name: 'a', value: enc('v') }], 1024)!;
  const got = parseXattrBlock(block, 9, { eaInode: true, inodesCount: 100 });
  assert.equal(got[1]!.valueInum, 13);
  assert.equal(got[1]!.value, undefined);
  assert.equal(got[1]!.valueSize, 70000);
  assert.equal(got[1]!.hash, h);
  assert.throws(() => parseXattrBlock(block, 9, { eaInode: false }), CorruptionError);
  assert.throws(() => parseXattrBlock(block, 9, { inodesCount: 12 }), CorruptionError);
});

// --- corruption ------------------------------------------------------------------

test('damaged blocks throw CorruptionError(xattr) with the block number', () => {
  const good = encodeXattrBlock([{ index: 1, name: 'alpha', value: enc('hello world') }, { index: 4, name: 'b', value: enc('x') }], 1024)!;
  const cases: [string, (b: Uint8Array, dv: DataView) => void, RegExp][] = [
    ['magic', (_b, dv) => dv.setUint32(0, 0xea010000, true), /magic/],
    ['h_blocks', (_b, dv) => dv.setUint32(8, 2, true), /h_blocks/],
    ['name past end', (b) => { b[32] = 255; b.fill(0x41, 48, 1024); }, /name out of bounds|end marker/],
    ['NUL in name', (b) => { b[32 + 16 + 1] = 0; }, /NUL/],
    ['value offset past end', (_b, dv) => dv.setUint16(32 + 2, 2000, true), /out of bounds/],
    ['value overlaps entries', (_b, dv) => dv.setUint16(32 + 2, 40, true), /overlaps/],
    ['value runs past end', (_b, dv) => dv.setUint32(32 + 8, 600, true), /overlaps/],
    ['size too large', (_b, dv) => dv.setUint32(32 + 8, (1 << 24) + 1, true), /too large/],
    ['bad ea inum', (_b, dv) => dv.setUint32(32 + 4, 5, true), /e_value_inum/],
  ];
  for (const [what, damage, re] of cases) {
    const b = good.slice();
    damage(b, new DataView(b.buffer));
    assert.throws(() => parseXattrBlock(b, 4242), (e: unknown) => {
      assert.ok(e instanceof CorruptionError, what);
      assert.equal(e.kind, 'xattr');
      assert.equal(e.context.block, 4242);
      assert.match(e.detail, re, what);
      return true;
    });
  }
  const region = encodeInodeXattrs([{ index: 1, name: 'x', value: enc('y') }], 96)!;
  region[4] = 200;
  assert.throws(() => parseInodeXattrs(region, 77), (e: unknown) => e instanceof CorruptionError && e.context.ino === 77);
});

// --- real images -----------------------------------------------------------------

interface Img { bytes: Buffer; bs: number; inodeSize: number; csumSeed: number }

function openImg(path: string): Img {
  const bytes = readFileSync(path);
  const sb = bytes.subarray(1024, 2048);
  const bs = 1024 << sb.readUInt32LE(0x18);
  const csumSeed = sb.readUInt32LE(0x60) & 0x2000 ? sb.readUInt32LE(0x270) : crc32cLe(0xffffffff, sb.subarray(0x68, 0x78));
  return { bytes, bs, inodeSize: sb.readUInt16LE(0x58), csumSeed };
}

function debugfs(img: string, req: string, write = false): string {
  return execFileSync('debugfs', [...(write ? ['-w'] : []), '-R', req, img], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Inode bytes and its xattr block number, located with `debugfs imap`. */
function inodeOf(img: Img, path: string, file: string) {
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(path, `imap ${file}`))!;
  const at = Number(m[1]) * img.bs + parseInt(m[2]!, 16);
  const inode = img.bytes.subarray(at, at + img.inodeSize);
  const aclBlock = inode.readUInt32LE(0x68) + inode.readUInt16LE(0x76) * 2 ** 32;
  return { inode, aclBlock, region: inode.subarray(128 + inode.readUInt16LE(0x80)) };
}

/** `debugfs ea_list` → [fullName, size] (names printed as hex bytes when not printable). */
function eaList(path: string, file: string): [string, number][] {
  return [...debugfs(path, `ea_list ${file}`).matchAll(/^ {2}(.+?) \((\d+)\)/gm)].map((m) => {
    const raw = m[1]!.trim();
    const n = /^[0-9a-f]{2}( [0-9a-f]{2})+$/.test(raw) ? Buffer.from(raw.replace(/ /g, ''), 'hex').toString('utf8') : raw;
    return [n, Number(m[2])];
  });
}

function eaGet(path: string, file: string, name: string, dir: string): Buffer {
  const out = join(dir, 'ea.out');
  rmSync(out, { force: true });
  debugfs(path, `ea_get -f ${out} ${file} ${name}`);
  return readFileSync(out);
}

test('mkfs.ext4 -d image: parse ibody and block, compare with debugfs, re-encode byte-identically', (t) => {
  if (!E2FS || !have('setfattr', '--version')) return t.skip('e2fsprogs or attr missing');
  const dir = mkdtempSync(join(tmpdir(), 'xattr-'));
  try {
    const stage = join(dir, 'stage');
    mkdirSync(stage);
    const f = join(stage, 'f');
    writeFileSync(f, 'hi\n');
    const set = (n: string, v: string) => execFileSync('setfattr', ['-n', n, '-v', v, f]);
    try {
      set('user.small', 's1');
    } catch {
      return t.skip('staging filesystem lacks user xattrs');
    }
    set('trusted.t', 'tv');
    set('user.big', 'B'.repeat(400));
    set('user.another', 'A'.repeat(200));
    set('user.café-высокий', 'é'.repeat(60)); // non-ASCII name in the block: signed vs unsigned hash
    set('user.empty', '');
    set('security.zz', 'Z'.repeat(77));
    const path = join(dir, 'x.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-b', '1024', '-I', '256', '-O', 'metadata_csum', '-d', stage, path, '8M'], { stdio: 'ignore' });
    const img = openImg(path);
    const { aclBlock, region } = inodeOf(img, path, '/f');
    assert.ok(aclBlock > 0, 'the file has an xattr block');
    const block = img.bytes.subarray(aclBlock * img.bs, (aclBlock + 1) * img.bs);
    const inBlock = parseXattrBlock(block, aclBlock, { eaInode: false });
    const inBody = parseInodeXattrs(region, 12, { eaInode: false });
    // Same set as debugfs ea_list (ibody first, then block), same values as ea_get.
    const all = [...inBody, ...inBlock];
    assert.deepEqual(all.map((e) => [e.fullName, e.valueSize]), eaList(path, '/f'));
    for (const e of all) assert.deepEqual(Buffer.from(e.value!), eaGet(path, '/f', e.fullName, dir), e.fullName);
    assert.ok(inBlock.some((e) => e.fullName.startsWith('user.caf')), 'non-ASCII name landed in the block');
    // e2fsprogs >= 1.47.0 hashes names as unsigned chars like the kernel; older
    // releases used plain (signed on x86) char. Accept either, but consistently.
    const signed = inBlock.some((e) => e.hash !== xattrEntryHash(e.nameBytes, e.value!));
    for (const e of inBlock) assert.equal(e.hash, xattrEntryHash(e.nameBytes, e.value!, signed), e.fullName);
    // Checksum.
    const stored = block.readUInt32LE(16);
    assert.equal(xattrBlockChecksum(img.csumSeed, aclBlock, block), stored);
    // Re-encode: e2fsprogs leaves h_hash 0.
    assert.equal(block.readUInt32LE(12), 0);
    const again = encodeXattrBlock(inBlock, img.bs, { blockHash: false, signedNameHash: signed })!;
    new DataView(again.buffer).setUint32(16, xattrBlockChecksum(img.csumSeed, aclBlock, again), true);
    assert.deepEqual(Buffer.from(again), Buffer.from(block));
    assert.deepEqual(Buffer.from(encodeInodeXattrs(inBody, region.length)!), Buffer.from(region));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ea_inode image (debugfs ea_set): entry hash from the ea_inode hash, which is crc32c(seed, value)', (t) => {
  if (!E2FS) return t.skip('e2fsprogs missing');
  const dir = mkdtempSync(join(tmpdir(), 'xattr-eai-'));
  try {
    const path = join(dir, 'e.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-b', '1024', '-O', 'ea_inode,metadata_csum', path, '8M'], { stdio: 'ignore' });
    // debugfs 1.47.0 ea_set -f reads at most one block; 1000 bytes > the 968-byte limit for in-block values.
    const val = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
    writeFileSync(join(dir, 'v'), val);
    debugfs(path, 'write /dev/null /g', true);
    debugfs(path, `ea_set -f ${join(dir, 'v')} /g user.huge`, true);
    const img = openImg(path);
    const { aclBlock, region } = inodeOf(img, path, '/g');
    const entries = aclBlock ? parseXattrBlock(img.bytes.subarray(aclBlock * img.bs, (aclBlock + 1) * img.bs), aclBlock, { eaInode: true })
      : parseInodeXattrs(region, 12, { eaInode: true });
    const e = entries.find((x) => x.fullName === 'user.huge')!;
    assert.ok(e.valueInum, 'value lives in an ea_inode');
    assert.equal(e.valueSize, 1000);
    const ea = inodeOf(img, path, `<${e.valueInum}>`).inode;
    const atimeHash = ea.readUInt32LE(0x8);
    assert.equal(eaInodeHash(img.csumSeed, val), atimeHash);
    assert.equal(e.hash, xattrEntryHashEaInode(e.nameBytes, atimeHash));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kernel-written block: entry hashes, h_hash and layout match encodeXattrBlock defaults', (t) => {
  if (!E2FS || !have('setfattr', '--version') || process.getuid?.() !== 0) return t.skip('needs root, e2fsprogs, attr');
  const dir = mkdtempSync(join(tmpdir(), 'xattr-k-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const path = join(dir, 'k.img');
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '1024', '-O', 'metadata_csum', path, '8M'], { stdio: 'ignore' });
  if (spawnSync('mount', ['-o', 'loop', path, mnt]).status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return t.skip('loop mount not available');
  }
  try {
    const f = join(mnt, 'k');
    writeFileSync(f, '');
    // Insertion order = block order, so the kernel's value placement equals ours.
    for (const [n, v] of [['user.b', 'x'.repeat(150)], ['user.zz', 'y'.repeat(201)], ['user.café', 'z'.repeat(170)], ['trusted.q', 'q'.repeat(130)]]) {
      execFileSync('setfattr', ['-n', n!, '-v', v!, f]);
    }
  } finally {
    execFileSync('umount', [mnt]);
  }
  try {
    const img = openImg(path);
    const { aclBlock } = inodeOf(img, path, '/k');
    const block = img.bytes.subarray(aclBlock * img.bs, (aclBlock + 1) * img.bs);
    const entries = parseXattrBlock(block, aclBlock);
    for (const e of entries) assert.equal(e.hash, xattrEntryHash(e.nameBytes, e.value!), e.fullName);
    assert.notEqual(block.readUInt32LE(12), 0);
    assert.equal(block.readUInt32LE(12), xattrBlockHash(block));
    assert.equal(xattrBlockChecksum(img.csumSeed, aclBlock, block), block.readUInt32LE(16));
    const again = encodeXattrBlock(entries, img.bs)!;
    new DataView(again.buffer).setUint32(16, xattrBlockChecksum(img.csumSeed, aclBlock, again), true);
    assert.deepEqual(Buffer.from(again), Buffer.from(block));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
