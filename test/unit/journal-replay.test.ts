// Journal replay (src/ext2/journal/recover.ts, open.ts) on the images of
// test/images/journal/ (made by make-journal-images.sh: kernel-written v3 and
// unchecksummed/v1 logs with revokes, debugfs-written v2 and v1 logs, a kernel
// fast_commit log).
// Oracle: `e2fsck -E journal_only -y` on a copy; the two images must be equal
// byte for byte except the superblock fields e2fsck itself touches (s_wtime,
// s_kbytes_written, s_checksum). Read-only opens lay the same blocks over the
// image in memory and leave the file unchanged; damaged journals give one
// clear error (read-write: image untouched) or stop where the kernel stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Volume } from '../../src/ext2/volume.js';
import { Filesystem } from '../../src/ext2/fs.js';
import { CorruptionError } from '../../src/ext2/errors.js';
import { lastRecoveryReport } from '../../src/ext2/journal/open.js';
import { JournalFile } from '../../src/ext2/journal/file.js';
import { parseJournalSuperblock } from '../../src/ext2/journal/info.js';
import { memoryLogger } from '../../src/util/log.js';
import { superblockChecksum } from '../../src/ext2/checksums.js';
import { e2fsck, hasTool, runTool } from '../helpers/tools.js';

const DIR = fileURLToPath(new URL('../images/journal/', import.meta.url));
const TOOLS = hasTool('e2fsck') && hasTool('debugfs');
const work = mkdtempSync(join(tmpdir(), 'fuse4fs-journal-replay-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

let serial = 0;
function copyOf(name: string): string {
  const p = join(work, `${name}-${serial++}.img`);
  writeFileSync(p, gunzipSync(readFileSync(join(DIR, `${name}.img.gz`))));
  return p;
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The image with the superblock fields e2fsck stamps on its own zeroed. */
function masked(bytes: Uint8Array): Uint8Array {
  const b = Uint8Array.from(bytes);
  const sb = 1024;
  b.fill(0, sb + 0x30, sb + 0x34); // s_wtime
  b.fill(0, sb + 0x178, sb + 0x180); // s_kbytes_written
  b.fill(0, sb + 0x3fc, sb + 0x400); // s_checksum
  return b;
}

function firstDifference(a: Uint8Array, b: Uint8Array, bs: number): string {
  if (a.length !== b.length) return `lengths ${a.length} != ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at byte ${i} (block ${Math.floor(i / bs)} offset ${i % bs})`;
  return 'equal';
}

function e2fsckReplay(src: string): { path: string; output: string } {
  const p = `${src}.e2fsck`;
  copyFileSync(src, p);
  const r = runTool('e2fsck', ['-E', 'journal_only', '-y', p]);
  assert.ok(r.code === 0 || r.code === 1, `e2fsck journal_only exited ${r.code}: ${r.output}`);
  return { path: p, output: r.output };
}

/** Every byte a volume sees through its device (the overlay for read-only replays). */
function deviceBytes(vol: Volume): Uint8Array {
  const out = new Uint8Array(vol.dev.size);
  vol.dev.read(out, 0);
  return out;
}

const IMAGES = [
  { name: 'kernel-4k-v3', csum: 3, bs: 4096 },
  { name: 'kernel-1k-v3', csum: 3, bs: 1024 },
  { name: 'kernel-ext3', csum: 0, bs: 1024 },
  { name: 'kernel-ext3-v1', csum: 1, bs: 1024 },
  { name: 'debugfs-v2', csum: 2, bs: 1024 },
];

for (const img of IMAGES) {
  test(`replay ${img.name}: read-write open gives e2fsck's bytes, then fsck is clean`, { skip: !TOOLS }, () => {
    const src = copyOf(img.name);
    const ref = e2fsckReplay(src);
    const ours = `${src}.ours`;
    copyFileSync(src, ours);
    const vol = Volume.open(ours, { readOnly: false, log: memoryLogger() });
    const report = lastRecoveryReport()!;
    assert.equal(report.replayed, true);
    assert.equal(report.inMemory, false);
    assert.ok(report.blocks > 0);
    assert.ok(report.revokeHits >= 1, 'each image has a logged block revoked later');
    assert.equal(vol.has('incompat', 0x4), false, 'needs_recovery cleared');
    vol.close();
    const a = masked(readFileSync(ref.path));
    const b = masked(readFileSync(ours));
    assert.equal(firstDifference(a, b, img.bs), 'equal');
    const fsck = e2fsck(ours);
    assert.equal(fsck.code, 0, fsck.output);
  });

  test(`replay ${img.name}: read-only open replays in memory, the file is unchanged`, { skip: !TOOLS }, () => {
    const src = copyOf(img.name);
    const before = sha(src);
    const ref = e2fsckReplay(src);
    const vol = Volume.open(src, { readOnly: true, log: memoryLogger() });
    assert.equal(lastRecoveryReport()!.inMemory, true);
    assert.equal(vol.readOnly, true);
    const seen = masked(deviceBytes(vol));
    const jsb = JournalFile.fromVolume(vol).physical(0) * img.bs;
    vol.close();
    assert.equal(sha(src), before);
    // e2fsck marked the journal empty on disk; a read-only replay leaves the journal superblock as it is
    const want = masked(readFileSync(ref.path));
    want.set(readFileSync(src).subarray(jsb, jsb + img.bs), jsb);
    assert.equal(firstDifference(want, seen, img.bs), 'equal');
  });

  test(`replay ${img.name}: journal features (checksum v${img.csum})`, () => {
    const src = copyOf(img.name);
    const vol = Volume.open(src, { readOnly: true, noRecovery: true, log: memoryLogger() });
    const file = JournalFile.fromVolume(vol);
    const info = parseJournalSuperblock(file.read(0), vol.blockSize, file.length);
    vol.close();
    assert.equal(info.csum, img.csum);
    assert.equal(info.blockSize, img.bs);
    assert.notEqual(info.start, 0);
  });
}

test('replay: the files the kernel wrote are there after our replay (read-only, through Filesystem)', () => {
  const src = copyOf('kernel-4k-v3');
  const fs = Filesystem.open(src, { readOnly: true, log: memoryLogger() });
  const enc = new TextEncoder();
  const keep = fs.lookup(2, enc.encode('keep'));
  assert.ok(keep > 0, 'keep/ exists');
  assert.ok(fs.lookup(2, enc.encode('gone')) < 0, 'gone/ was removed');
  assert.ok(fs.lookup(keep, enc.encode('renamed')) > 0, 'keep/renamed');
  const f1 = fs.lookup(keep, enc.encode('f1'));
  const buf = new Uint8Array(4096);
  const n = fs.read(f1, 0, buf);
  assert.equal(new TextDecoder().decode(buf.subarray(n - 9, n)), 'append 1\n');
  fs.close();
});

test('replay: debugfs-v1 has a revoke-only transaction whose v1 commit checksum fails: stop there like e2fsck', { skip: !TOOLS }, () => {
  const src = copyOf('debugfs-v1');
  const before = sha(src);
  // read-write: refused, untouched
  assert.throws(() => Volume.open(src, { readOnly: false, log: memoryLogger() }), (e: unknown) => {
    assert.ok(e instanceof CorruptionError);
    assert.match(e.message, /transaction 2 is corrupt/);
    assert.match(e.message, /untouched/);
    return true;
  });
  assert.equal(sha(src), before);
  // read-only: what e2fsck replays (transaction 1 only), with a warning
  const ref = e2fsckReplay(src);
  assert.match(ref.output, /transaction 2 was corrupt/);
  const log = memoryLogger();
  const vol = Volume.open(src, { readOnly: true, log });
  assert.ok(log.lines.some((l) => /transaction 2 is corrupt/.test(l)), log.lines.join('\n'));
  const seen = deviceBytes(vol);
  vol.close();
  assert.equal(sha(src), before);
  // e2fsck also marks the fs not clean after a failed replay: compare the data blocks only
  const a = readFileSync(ref.path);
  for (const blk of [2000, 2001, 2002]) {
    assert.deepEqual(seen.subarray(blk * 1024, blk * 1024 + 1024), new Uint8Array(a.subarray(blk * 1024, blk * 1024 + 1024)), `block ${blk}`);
  }
});

/** Journal block `l` of an image as (offset in file, bytes). */
function journalBlock(path: string, l: number): { off: number; bytes: Uint8Array; bs: number } {
  const vol = Volume.open(path, { readOnly: true, noRecovery: true, log: memoryLogger() });
  const file = JournalFile.fromVolume(vol);
  const off = file.physical(l) * vol.blockSize;
  const bytes = file.read(l);
  const bs = vol.blockSize;
  vol.close();
  return { off, bytes, bs };
}

function patch(path: string, off: number, bytes: Uint8Array): void {
  const all = readFileSync(path);
  all.set(bytes, off);
  writeFileSync(path, all);
}

/** Log positions of the commit blocks (debugfs logdump). */
function commitBlocks(path: string): number[] {
  const out = runTool('debugfs', ['-R', 'logdump', path]).stdout;
  return [...out.matchAll(/type 2 \(commit block\) at block (\d+)/g)].map((m) => Number(m[1]));
}

test('corrupt journal superblock (bad magic): one clear error, read-write or read-only, image untouched', () => {
  const src = copyOf('kernel-4k-v3');
  const j = journalBlock(src, 0);
  const bad = Uint8Array.from(j.bytes);
  bad[0] ^= 0xff;
  patch(src, j.off, bad);
  const before = sha(src);
  for (const readOnly of [false, true]) {
    assert.throws(() => Volume.open(src, { readOnly, log: memoryLogger() }), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.match(e.message, /journal superblock has bad magic/);
      return true;
    });
    assert.equal(sha(src), before);
  }
  // norecovery still reads it as it is
  const vol = Volume.open(src, { readOnly: true, noRecovery: true, log: memoryLogger() });
  vol.close();
});

test('bad commit checksum mid-log (v3): read-write refuses untouched; read-only stops where e2fsck stops', { skip: !TOOLS }, () => {
  const src = copyOf('kernel-4k-v3');
  const commits = commitBlocks(src);
  assert.ok(commits.length >= 3, `want 3 commits, have ${commits}`);
  const j = journalBlock(src, commits[1]!);
  const bad = Uint8Array.from(j.bytes);
  bad[0x10] ^= 0x55; // h_chksum[0] (the kernel forgives damage past the header: the partial checksum)
  patch(src, j.off, bad);
  const before = sha(src);
  assert.throws(() => Volume.open(src, { readOnly: false, log: memoryLogger() }), /transaction \d+ is corrupt.*untouched/s);
  assert.equal(sha(src), before);
  const ref = e2fsckReplay(src);
  assert.match(ref.output, /was corrupt, replay was aborted/);
  const vol = Volume.open(src, { readOnly: true, log: memoryLogger() });
  const report = lastRecoveryReport()!;
  const seen = deviceBytes(vol);
  const jsb = JournalFile.fromVolume(vol).physical(0) * j.bs;
  vol.close();
  assert.equal(report.endTransaction, report.startTransaction + 1, 'only the first transaction replayed');
  // e2fsck clears VALID_FS in s_state after an aborted replay and marks the journal empty: mask those
  const a = masked(readFileSync(ref.path));
  a.set(readFileSync(src).subarray(jsb, jsb + j.bs), jsb);
  const b = masked(seen);
  a.fill(0, 1024 + 0x3a, 1024 + 0x3c);
  b.fill(0, 1024 + 0x3a, 1024 + 0x3c);
  assert.equal(firstDifference(a, b, j.bs), 'equal');
});

test('a torn last transaction (no commit block) is not replayed, as e2fsck', { skip: !TOOLS }, () => {
  const src = copyOf('kernel-1k-v3');
  const commits = commitBlocks(src);
  const last = commits[commits.length - 1]!;
  const j = journalBlock(src, last);
  patch(src, j.off, new Uint8Array(j.bs));
  const ref = e2fsckReplay(src);
  const ours = `${src}.ours`;
  copyFileSync(src, ours);
  Volume.open(ours, { readOnly: false, log: memoryLogger() }).close();
  assert.equal(lastRecoveryReport()!.endTransaction, lastRecoveryReport()!.startTransaction + commits.length - 1);
  assert.equal(firstDifference(masked(readFileSync(ref.path)), masked(readFileSync(ours)), j.bs), 'equal');
});

test('a bad data-block checksum (v3): read-write refuses untouched, read-only skips that block with a warning', () => {
  const src = copyOf('kernel-4k-v3');
  const j = journalBlock(src, 2); // first logged block of the first transaction
  const bad = Uint8Array.from(j.bytes);
  bad[100] ^= 1;
  patch(src, j.off, bad);
  const before = sha(src);
  assert.throws(() => Volume.open(src, { readOnly: false, log: memoryLogger() }), /invalid checksum of data block/);
  assert.equal(sha(src), before);
  const log = memoryLogger();
  Volume.open(src, { readOnly: true, log }).close();
  assert.ok(log.lines.some((l) => /invalid checksum of data block/.test(l)));
  assert.equal(sha(src), before);
});

test('norecovery opens read-only without replaying, and the image keeps needs_recovery', () => {
  const src = copyOf('kernel-1k-v3');
  const before = sha(src);
  const vol = Volume.open(src, { readOnly: false, noRecovery: true, log: memoryLogger() });
  assert.equal(vol.readOnly, true);
  assert.equal(vol.has('incompat', 0x4), true);
  vol.close();
  assert.equal(sha(src), before);
});

test('Filesystem.open read-write after a kernel crash: replay, orphans, writes, clean close', { skip: !TOOLS }, () => {
  const src = copyOf('kernel-4k-v3');
  const fs = Filesystem.open(src, { readOnly: false, log: memoryLogger() });
  const enc = new TextEncoder();
  const ino = fs.create(2, enc.encode('after-replay'), 0o644, 0, 0);
  assert.ok(ino > 0);
  assert.equal(fs.writeData(ino, 0, enc.encode('hello\n')), 6);
  fs.close();
  const r = e2fsck(src);
  assert.equal(r.code, 0, r.output);
  assert.doesNotMatch(runTool('dumpe2fs', ['-h', src]).stdout, /needs_recovery/);
});

test('fast commits are not replayed: a warning, a consistent filesystem with the full commits (e2fsck applies them too)', { skip: !TOOLS }, () => {
  const src = copyOf('kernel-fastcommit');
  const ref = e2fsckReplay(src);
  const ours = `${src}.ours`;
  copyFileSync(src, ours);
  const log = memoryLogger();
  const fs = Filesystem.open(ours, { readOnly: false, log });
  assert.ok(log.lines.some((l) => /fast-commit blocks .* not replayed/.test(l)), log.lines.join('\n'));
  const d = fs.lookup(2, new TextEncoder().encode('d'));
  const names = (f: Filesystem, dir: number) => {
    const out: string[] = [];
    f.readdir(dir, 0, (_ino, n) => { out.push(new TextDecoder().decode(n)); return true; });
    return out.filter((n) => n !== '.' && n !== '..').sort();
  };
  assert.deepEqual(names(fs, d), ['f1', 'f2', 'f3'], 'what the full commit made');
  fs.close();
  assert.equal(e2fsck(ours).code, 0);
  const theirs = Filesystem.open(ref.path, { readOnly: true, log: memoryLogger() });
  assert.deepEqual(names(theirs, theirs.lookup(2, new TextEncoder().encode('d'))), ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'], 'e2fsck replays the fast commits');
  theirs.close();
});

test('needs_recovery with an empty journal (a kill between the flag and the first commit): cleared as e2fsck clears it', { skip: !TOOLS }, () => {
  const src = join(work, `empty-${serial++}.img`);
  writeFileSync(src, gunzipSync(readFileSync(fileURLToPath(new URL('../images/ext4.img.gz', import.meta.url)))));
  const all = readFileSync(src);
  const sb = all.subarray(1024, 2048);
  sb.writeUInt32LE(sb.readUInt32LE(0x60) | 0x4, 0x60);
  sb.writeUInt32LE(superblockChecksum(sb), 0x3fc);
  writeFileSync(src, all);
  const ref = e2fsckReplay(src);
  const ours = `${src}.ours`;
  copyFileSync(src, ours);
  const vol = Volume.open(ours, { readOnly: false, log: memoryLogger() });
  assert.equal(lastRecoveryReport()!.replayed, false);
  vol.close();
  assert.equal(firstDifference(masked(readFileSync(ref.path)), masked(readFileSync(ours)), 4096), 'equal');
});
