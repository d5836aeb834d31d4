// The journal writer (src/ext2/journal/writer.ts, txn.ts) and the jbd2 layout
// and checksum modules. Oracles: e2fsck (journal_only replay of a copy taken
// before close = a crash; -fn verdicts), debugfs logdump, the kernel's own
// replay through a loop mount, and our replay giving the same bytes as e2fsck's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Filesystem } from '../../src/ext2/fs.js';
import { Volume } from '../../src/ext2/volume.js';
import { walkRuns } from '../../src/ext2/file.js';
import { JournalFile } from '../../src/ext2/journal/file.js';
import { parseJournalSuperblock } from '../../src/ext2/journal/info.js';
import { journalChecksumSeed, journalSuperblockChecksum, crc32Be } from '../../src/ext2/journal/checksums.js';
import { JournalSuperblock, JOURNAL_SUPERBLOCK_SIZE } from '../../src/ext2/journal/layout/superblock.js';
import { BlockTag, BlockTag3, tagBytes } from '../../src/ext2/journal/layout/tags.js';
import { CommitHeader, COMMIT_HEADER_SIZE } from '../../src/ext2/journal/layout/commit.js';
import { RevokeHeader } from '../../src/ext2/journal/layout/revoke.js';
import { JournalHeader, tidGt } from '../../src/ext2/journal/layout/header.js';
import { crc32cLe } from '../../src/util/crc32c.js';
import { memoryLogger } from '../../src/util/log.js';
import { freshCopy } from '../helpers/images.js';
import { e2fsck, hasTool, runTool } from '../helpers/tools.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';

const TOOLS = hasTool('e2fsck') && hasTool('debugfs');
const KERNEL = TOOLS && canLoopMount();
const enc = new TextEncoder();
const work = mkdtempSync(join(tmpdir(), 'fuse4fs-journal-writer-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let serial = 0;

// ---- layout and checksums ---------------------------------------------------------

test('jbd2 structs have the kernel sizes and offsets', () => {
  assert.equal(JournalSuperblock.size, 1024);
  assert.equal(JournalSuperblock.field('s_checksum')!.offset, 0xfc);
  assert.equal(JournalSuperblock.field('s_users')!.offset, 0x100);
  assert.equal(JournalSuperblock.field('s_num_fc_blks')!.offset, 0x54);
  assert.equal(JournalHeader.size, 12);
  assert.equal(BlockTag3.size, 16);
  assert.equal(BlockTag.size, 12);
  assert.equal(RevokeHeader.size, 16);
  assert.equal(COMMIT_HEADER_SIZE, 60);
  assert.equal(CommitHeader.field('h_commit_sec')!.offset, 0x30);
});

test('journal_tag_bytes for every feature combination', () => {
  // csum_v3 = 0x10, csum_v2 = 0x8, 64bit = 0x2
  assert.equal(tagBytes(0), 8);
  assert.equal(tagBytes(0x2), 12);
  assert.equal(tagBytes(0x8), 10);
  assert.equal(tagBytes(0x8 | 0x2), 14);
  assert.equal(tagBytes(0x10), 16);
  assert.equal(tagBytes(0x10 | 0x2), 16);
});

test('crc32_be (v1 commit checksum) matches CRC-32/MPEG-2', () => {
  assert.equal(crc32Be(0xffffffff, enc.encode('123456789')), 0x0376e6e7);
  assert.equal(crc32Be(0, new Uint8Array(0)), 0);
  // chaining equals one pass
  const d = enc.encode('the quick brown fox');
  assert.equal(crc32Be(crc32Be(0xffffffff, d.subarray(0, 7)), d.subarray(7)), crc32Be(0xffffffff, d));
});

test('journal superblock checksum and seed: the values mke2fs/debugfs wrote verify', () => {
  const img = join(work, `v3-${serial++}.img`);
  copyFileSync(freshCopy('ext4'), img);
  // our writer switches the journal to v3 on first commit; e2fsck's dumpe2fs must agree with the checksum
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  fs.mkdir(2, enc.encode('x'), 0o755, 0, 0);
  fs.sync();
  const j = fs.vol.txn.journalWriter!;
  assert.equal(j.journalInfo.csum, 3);
  assert.equal(j.journalInfo.csumSeed, crc32cLe(0xffffffff, j.journalInfo.uuid) >>> 0);
  assert.equal(journalChecksumSeed(j.journalInfo.uuid), j.journalInfo.csumSeed);
  fs.close();
  const vol = Volume.open(img, { readOnly: true, log: memoryLogger() });
  const file = JournalFile.fromVolume(vol);
  const jsb = file.read(0);
  const sb = new JournalSuperblock(jsb, 0);
  assert.equal(sb.s_checksum, journalSuperblockChecksum(jsb.subarray(0, JOURNAL_SUPERBLOCK_SIZE)));
  vol.close();
  if (TOOLS) assert.match(runTool('dumpe2fs', ['-h', img]).stdout, /Journal checksum type:\s+crc32c/);
});

test('transaction IDs compare with wrap-around (tid_gt)', () => {
  assert.equal(tidGt(5, 4), true);
  assert.equal(tidGt(4, 5), false);
  assert.equal(tidGt(0, 0xffffffff), true);
  assert.equal(tidGt(0xffffffff, 0), false);
});

// ---- helpers -------------------------------------------------------------------------

/** Patch the journal superblock's features (v1: compat checksum; v2: csum_v2 + crc32c type). */
function setJournalChecksum(img: string, kind: 'v1' | 'v2'): void {
  const vol = Volume.open(img, { readOnly: true, log: memoryLogger() });
  const file = JournalFile.fromVolume(vol);
  const off = file.physical(0) * vol.blockSize;
  vol.close();
  const all = readFileSync(img);
  const jsb = all.subarray(off, off + 1024);
  const sb = new JournalSuperblock(jsb, 0);
  if (kind === 'v1') {
    sb.s_feature_compat = sb.s_feature_compat | 0x1;
  } else {
    sb.s_feature_incompat = sb.s_feature_incompat | 0x8;
    sb.s_checksum_type = 4;
    sb.s_checksum = journalSuperblockChecksum(jsb);
  }
  writeFileSync(img, all);
}

/** The image with the superblock fields e2fsck stamps on its own zeroed. */
function masked(bytes: Uint8Array): Uint8Array {
  const b = Uint8Array.from(bytes);
  b.fill(0, 1024 + 0x30, 1024 + 0x34);
  b.fill(0, 1024 + 0x178, 1024 + 0x180);
  b.fill(0, 1024 + 0x3fc, 1024 + 0x400);
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} != ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `differ at byte ${i}`;
  return 'equal';
}

/**
 * A crash copy: e2fsck's replay and ours give the same bytes, fsck is then clean;
 * returns the path of our replayed copy.
 */
function checkCrashCopy(crash: string): string {
  assert.match(runTool('dumpe2fs', ['-h', crash]).stdout, /needs_recovery/);
  const ref = `${crash}.e2fsck`;
  copyFileSync(crash, ref);
  const r = runTool('e2fsck', ['-E', 'journal_only', '-y', ref]);
  assert.ok(r.code <= 1, r.output);
  assert.doesNotMatch(r.output, /corrupt|abort/i, r.output);
  const ours = `${crash}.ours`;
  copyFileSync(crash, ours);
  Volume.open(ours, { readOnly: false, log: memoryLogger() }).close();
  assert.equal(sameBytes(masked(readFileSync(ref)), masked(readFileSync(ours))), 'equal');
  const f = e2fsck(ours);
  assert.equal(f.code, 0, f.output);
  return ours;
}

/** A small workload with several commits; a copy of the image is taken before close. */
function workload(img: string, crash: string): void {
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  const d = fs.mkdir(2, enc.encode('jw'), 0o755, 0, 0);
  assert.ok(d > 0);
  for (let i = 0; i < 60; i++) {
    const ino = fs.create(d, enc.encode(`file-${i}`), 0o644, 0, 0);
    assert.ok(ino > 0);
    fs.writeData(ino, 0, new Uint8Array(1500 + i * 37).fill(0x41 + (i % 26)));
    if (i % 7 === 6) fs.sync();
  }
  for (let i = 0; i < 60; i += 3) assert.equal(fs.unlink(d, enc.encode(`file-${i}`)), 0);
  assert.equal(fs.rename(d, enc.encode('file-1'), 2, enc.encode('moved')), 0);
  fs.setxattr(d, 'user.note', enc.encode('journaled'), 0);
  fs.sync();
  copyFileSync(img, crash);
  fs.close();
}

const FLAVOURS: { name: string; image: string; csum: 'v3' | 'v2' | 'v1' | 'none'; want: RegExp }[] = [
  { name: 'ext4 4 KiB, v3', image: 'ext4', csum: 'v3', want: /journal_checksum_v3/ },
  { name: 'ext4 1 KiB, v3', image: 'ext4-1k', csum: 'v3', want: /journal_checksum_v3/ },
  { name: 'ext4 1 KiB, v2', image: 'ext4-1k', csum: 'v2', want: /journal_checksum_v2/ },
  { name: 'ext3, no checksums', image: 'ext3', csum: 'none', want: /journal_incompat_revoke$/m },
  { name: 'ext3, v1', image: 'ext3', csum: 'v1', want: /journal_checksum journal_incompat_revoke/ },
];

for (const fl of FLAVOURS) {
  test(`writer (${fl.name}): crash copies replay like e2fsck, close leaves a clean image`, { skip: !TOOLS }, () => {
    const img = join(work, `${fl.image}-${serial++}.img`);
    copyFileSync(freshCopy(fl.image), img);
    if (fl.csum === 'v1' || fl.csum === 'v2') setJournalChecksum(img, fl.csum);
    const crash = `${img}.crash`;
    workload(img, crash);
    // after close: clean, journal empty, no needs_recovery
    const head = runTool('dumpe2fs', ['-h', img]).stdout;
    assert.doesNotMatch(head, /needs_recovery/);
    assert.match(head, /Journal start:\s+0$/m);
    assert.match(head, fl.want);
    const f = e2fsck(img);
    assert.equal(f.code, 0, f.output);
    // the crash copy: committed transactions in the log
    const log = runTool('debugfs', ['-R', 'logdump', crash]).stdout;
    assert.ok((log.match(/commit block/g) ?? []).length >= 2, log);
    const ours = checkCrashCopy(crash);
    // what was synced is there
    const fs = Filesystem.open(ours, { readOnly: true, log: memoryLogger() });
    assert.ok(fs.lookup(2, enc.encode('moved')) > 0);
    const d = fs.lookup(2, enc.encode('jw'));
    assert.ok(fs.lookup(d, enc.encode('file-59')) > 0);
    assert.ok(fs.lookup(d, enc.encode('file-0')) < 0);
    fs.close();
  });
}

test('writer: the kernel replays our journal (loop mount of a crash copy)', { skip: !KERNEL }, async () => {
  for (const image of ['ext4', 'ext4-1k', 'ext3']) {
    const img = join(work, `k-${image}-${serial++}.img`);
    copyFileSync(freshCopy(image), img);
    const crash = `${img}.crash`;
    workload(img, crash);
    await withLoopMount(crash, (dir) => {
      const st = runTool('stat', ['-c', '%s', join(dir, 'jw', 'file-59')]);
      assert.equal(st.stdout.trim(), String(1500 + 59 * 37));
      assert.equal(runTool('cat', [join(dir, 'moved')]).stdout, 'B'.repeat(1537));
    }, { ro: false });
    const f = e2fsck(crash);
    assert.equal(f.code, 0, f.output);
  }
});

test('writer: the log wraps around many times; crash copies at random points all replay', { skip: !TOOLS }, () => {
  const img = join(work, `wrap-${serial++}.img`);
  copyFileSync(freshCopy('ext4-1k'), img);
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  const d = fs.mkdir(2, enc.encode('w'), 0o755, 0, 0);
  const crashes: string[] = [];
  for (let i = 0; i < 700; i++) {
    const ino = fs.create(d, enc.encode(`f${i}`), 0o644, 0, 0);
    fs.writeData(ino, 0, new Uint8Array(2000).fill(i & 0xff));
    if (i > 10 && i % 3 === 0) fs.unlink(d, enc.encode(`f${i - 7}`));
    fs.sync();
    if (i % 173 === 172) {
      crashes.push(`${img}.c${crashes.length}`);
      copyFileSync(img, crashes[crashes.length - 1]!);
    }
  }
  const j = fs.vol.txn.journalWriter!;
  assert.ok(j.checkpoints >= 5, `checkpoints ${j.checkpoints}`);
  assert.ok(j.commits * 8 > j.journalInfo.last * 3, 'several laps of the log');
  fs.close();
  assert.equal(e2fsck(img).code, 0);
  for (const c of crashes) checkCrashCopy(c);
});

test('writer: old directory blocks reused for file data are revoked; replay keeps the data', { skip: !TOOLS }, () => {
  const img = join(work, `revoke-${serial++}.img`);
  copyFileSync(freshCopy('ext4-1k'), img);
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  const vol = fs.vol;
  const dir = fs.mkdir(2, enc.encode('big'), 0o755, 0, 0);
  for (let i = 0; i < 300; i++) fs.mknod(dir, enc.encode(`entry-with-a-long-name-${i}`), 0o100644, 0, 0);
  fs.sync(); // the directory blocks are in the log
  const dirBlocks = new Set<number>();
  walkRuns(vol, vol.inodes.get(dir), (r) => { for (let i = 0; i < r.length; i++) dirBlocks.add(r.physical + i); });
  assert.ok(dirBlocks.size > 5);
  for (let i = 0; i < 300; i++) fs.unlink(dir, enc.encode(`entry-with-a-long-name-${i}`));
  assert.equal(fs.rmdir(2, enc.encode('big')), 0);
  fs.sync(); // the directory blocks are free now; the log still holds their old copies
  const ino = fs.create(2, enc.encode('data'), 0o644, 0, 0);
  const content = new Uint8Array(400 * 1024);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7 + 3) & 0xff;
  assert.equal(fs.writeData(ino, 0, content), content.length);
  fs.sync();
  const fileBlocks: number[] = [];
  walkRuns(vol, vol.inodes.get(ino), (r) => { for (let i = 0; i < r.length; i++) fileBlocks.push(r.physical + i); });
  const reused = fileBlocks.filter((b) => dirBlocks.has(b));
  assert.ok(reused.length > 0, 'the file reuses some of the old directory blocks');
  assert.ok(vol.txn.journalWriter!.pendingCheckpoint > 0, 'not checkpointed yet');
  const crash = `${img}.crash`;
  copyFileSync(img, crash);
  fs.close();
  const log = runTool('debugfs', ['-R', 'logdump', crash]).stdout;
  assert.match(log, /revoke/);
  const ours = checkCrashCopy(crash);
  const back = Filesystem.open(ours, { readOnly: true, log: memoryLogger() });
  const got = new Uint8Array(content.length);
  assert.equal(back.read(back.lookup(2, enc.encode('data')), 0, got), content.length);
  assert.ok(Buffer.from(got).equals(Buffer.from(content)), 'file data intact after replay');
  back.close();
});

test('writer: blocks freed by the running transaction are not reused before it commits (ext3 indirect blocks)', { skip: !TOOLS }, () => {
  const img = join(work, `quarantine-${serial++}.img`);
  copyFileSync(freshCopy('ext3'), img);
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  const vol = fs.vol;
  const a = fs.create(2, enc.encode('a'), 0o644, 0, 0);
  const aData = new Uint8Array(200 * 1024).fill(0x61);
  fs.writeData(a, 0, aData);
  fs.sync();
  const aBlocks = new Set<number>();
  walkRuns(vol, vol.inodes.get(a), (r) => { for (let i = 0; i < r.length; i++) aBlocks.add(r.physical + i); },
    (meta) => aBlocks.add(meta));
  // truncate a (frees its indirect and data blocks), then write b: none of a's blocks may be used
  assert.equal(fs.setattr(a, { size: 0 }), 0);
  const b = fs.create(2, enc.encode('b'), 0o644, 0, 0);
  fs.writeData(b, 0, new Uint8Array(400 * 1024).fill(0x62));
  const bBlocks: number[] = [];
  walkRuns(vol, vol.inodes.get(b), (r) => { for (let i = 0; i < r.length; i++) bBlocks.push(r.physical + i); },
    (meta) => bBlocks.push(meta));
  assert.deepEqual(bBlocks.filter((x) => aBlocks.has(x)), [], 'b took none of the blocks a freed in the same transaction');
  // a crash now (nothing committed since the sync): a is whole again
  const crash = `${img}.crash`;
  copyFileSync(img, crash);
  fs.sync();
  // after the commit the freed blocks are available again
  const c = fs.create(2, enc.encode('c'), 0o644, 0, 0);
  fs.writeData(c, 0, new Uint8Array(vol.alloc.freeBlocksTotal * 1024 - 64 * 1024).fill(0x63));
  const cBlocks: number[] = [];
  walkRuns(vol, vol.inodes.get(c), (r) => { for (let i = 0; i < r.length; i++) cBlocks.push(r.physical + i); });
  assert.ok(cBlocks.some((x) => aBlocks.has(x)), 'once committed, the freed blocks are reused');
  fs.close();
  assert.equal(e2fsck(img).code, 0);
  const ours = checkCrashCopy(crash);
  const back = Filesystem.open(ours, { readOnly: true, log: memoryLogger() });
  const got = new Uint8Array(aData.length);
  assert.equal(back.read(back.lookup(2, enc.encode('a')), 0, got), aData.length);
  assert.ok(Buffer.from(got).equals(Buffer.from(aData)), 'a has its committed contents');
  back.close();
});

test('writer: a block starting with the jbd2 magic is escaped in the log and restored by replay', { skip: !TOOLS }, () => {
  const img = join(work, `escape-${serial++}.img`);
  copyFileSync(freshCopy('ext4'), img);
  const vol = Volume.open(img, { readOnly: false, log: memoryLogger() });
  const j = vol.txn.journalWriter!;
  const blk = vol.geo.blocksCount - 2; // a free block near the end
  assert.equal(vol.alloc.isBlockInUse(blk), false);
  const data = new Uint8Array(vol.blockSize).fill(0x5a);
  data.set([0xc0, 0x3b, 0x39, 0x98], 0);
  assert.equal(j.commit([{ nr: blk, data }]), true);
  const crash = `${img}.crash`;
  copyFileSync(img, crash);
  vol.close();
  const log = runTool('debugfs', ['-R', 'logdump -a', crash]).stdout;
  assert.match(log, new RegExp(`FS block ${blk} logged at journal block \\d+ \\(flags 0x[0-9a-f]*[9b]\\)`));
  for (const how of ['e2fsck', 'ours']) {
    const p = `${crash}.${how}`;
    copyFileSync(crash, p);
    if (how === 'e2fsck') runTool('e2fsck', ['-E', 'journal_only', '-y', p]);
    else Volume.open(p, { readOnly: false, log: memoryLogger() }).close();
    const got = readFileSync(p).subarray(blk * vol.blockSize, (blk + 1) * vol.blockSize);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), how);
  }
  // and after our close (checkpoint) the block is home
  assert.ok(readFileSync(img).subarray(blk * 4096, blk * 4096 + 4096).equals(Buffer.from(data)));
});

test('writer: a transaction larger than the log is refused by commit() (the txn layer writes it in place)', () => {
  const img = join(work, `big-${serial++}.img`);
  copyFileSync(freshCopy('ext4'), img);
  const vol = Volume.open(img, { readOnly: false, log: memoryLogger() });
  const j = vol.txn.journalWriter!;
  const blocks = Array.from({ length: j.capacity }, (_, i) => ({ nr: 100 + i, data: new Uint8Array(vol.blockSize) }));
  assert.equal(j.commit(blocks), false);
  assert.equal(j.isLive, false, 'nothing written');
  vol.close();
});

test('writer: a read-write open that changes nothing leaves the image byte-identical', () => {
  const img = join(work, `noop-${serial++}.img`);
  copyFileSync(freshCopy('ext4'), img);
  const before = readFileSync(img);
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  fs.lookup(2, enc.encode('hello.txt'));
  fs.sync();
  fs.close();
  assert.ok(readFileSync(img).equals(before));
});

test('writer: needs_recovery is set while the log holds transactions, cleared at close', () => {
  const img = join(work, `flag-${serial++}.img`);
  copyFileSync(freshCopy('ext4'), img);
  const fs = Filesystem.open(img, { readOnly: false, log: memoryLogger() });
  const flag = () => (readFileSync(img).readUInt32LE(1024 + 0x60) & 0x4) !== 0;
  assert.equal(flag(), false);
  fs.mkdir(2, enc.encode('d'), 0o755, 0, 0);
  fs.sync();
  assert.equal(flag(), true);
  const vol = Volume.open(img, { readOnly: true, log: memoryLogger() }); // a reader meanwhile replays in memory
  assert.equal(vol.has('incompat', 0x4), false);
  vol.close();
  fs.close();
  assert.equal(flag(), false);
  const info = (() => {
    const v = Volume.open(img, { readOnly: true, log: memoryLogger() });
    const file = JournalFile.fromVolume(v);
    const i = parseJournalSuperblock(file.read(0), v.blockSize, file.length);
    v.close();
    return i;
  })();
  assert.equal(info.start, 0);
});
