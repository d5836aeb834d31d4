// Corrupted images must produce clean, typed errors (DESIGN.md habit 7).
//
// Each test takes a committed image, damages chosen bytes in an in-memory copy
// and expects one specific error: UnsupportedError when the open is refused,
// else a CorruptionError whose kind names the structure and whose context says
// where (ino, block, group, offset). The bytes are found through our own read
// API on the sound image (resolvePath, inodes.locate, walkRuns, fileAcl) and the
// struct tables' field offsets, never hard-coded positions, so regenerated
// images keep working; one test checks the locators against debugfs.
//
// Structural damage on metadata_csum images is read with checksums: 'warn'
// (the checksum then only logs), so the structural check itself is what fires;
// the checksum tests use 'error' and then show that 'warn' logs and reads on.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lookup, readDir } from '../../src/ext2/dir.js';
import { CorruptionError, UnsupportedError, type CorruptionContext, type CorruptionKind } from '../../src/ext2/errors.js';
import { mapBlock, readFileRange, readLink, walkRuns } from '../../src/ext2/file.js';
import type { Inode } from '../../src/ext2/inode.js';
import { I_BLOCK_OFFSET } from '../../src/ext2/inode.js';
import { DX_ROOT_INFO_OFFSET, DxRootInfo } from '../../src/ext2/layout/dirent.js';
import { Extent, ExtentHeader, ExtentIndex } from '../../src/ext2/layout/extent.js';
import { GroupDesc } from '../../src/ext2/layout/group-desc.js';
import { InodeRaw } from '../../src/ext2/layout/inode.js';
import { SUPERBLOCK_OFFSET, Superblock } from '../../src/ext2/layout/superblock.js';
import { XATTR_BLOCK_HEADER_SIZE, XATTR_IBODY_HEADER_SIZE, XattrEntryHeader } from '../../src/ext2/layout/xattr.js';
import { resolvePath } from '../../src/ext2/namei.js';
import { Volume, type OpenOptions } from '../../src/ext2/volume.js';
import { listXattrs } from '../../src/ext2/xattr.js';
import { MemoryDevice } from '../../src/io/block-device.js';
import { Errno } from '../../src/util/errno.js';
import { makeLogger, memoryLogger } from '../../src/util/log.js';
import { imagePath } from '../helpers/images.js';
import { hasTool, debugfs } from '../helpers/tools.js';
import { imageBytes, walkTree } from '../helpers/walk.js';

const quiet = makeLogger(() => {});
const enc = (s: string) => new TextEncoder().encode(s);
const off = (struct: { field(n: string): { offset: number } | undefined }, name: string): number => {
  const f = struct.field(name);
  if (!f) throw new Error(`no field ${name}`);
  return f.offset;
};

/** An in-memory copy of a test image, with a locator volume opened on it before any damage. */
class Img {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  /** Opened on the sound bytes; used only to find things (its cache holds the sound blocks). */
  readonly vol: Volume;

  constructor(readonly name: string) {
    this.bytes = imageBytes(name);
    this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.vol = this.open();
  }

  get bs(): number { return this.vol.blockSize; }

  /** A fresh volume over the (possibly damaged) bytes. */
  open(opts: OpenOptions = {}, bytes: Uint8Array = this.bytes): Volume {
    return Volume.open(new MemoryDevice(bytes, true), { readOnly: true, noRecovery: true, log: quiet, ...opts });
  }

  ino(path: string): number {
    const ino = resolvePath(this.vol, path);
    assert.ok(ino > 0, `${this.name}:${path} resolves (${ino})`);
    return ino;
  }
  inode(path: string): Inode { return this.vol.inodes.get(this.ino(path)); }
  /** Byte position of inode `ino` in the image. */
  inodePos(ino: number): number {
    const loc = this.vol.inodes.locate(ino);
    return loc.block * this.bs + loc.offset;
  }
  /** Byte position of block `nr`. */
  blockPos(nr: number): number { return nr * this.bs; }
  /** The physical block of logical block `lblk` of `path`. */
  block(path: string, lblk = 0): number {
    const b = mapBlock(this.vol, this.inode(path), lblk);
    assert.ok(b > 0, `${path} block ${lblk} is mapped`);
    return b;
  }

  u8(pos: number, v?: number): number { if (v !== undefined) this.bytes[pos] = v; return this.bytes[pos]!; }
  u16(pos: number, v?: number): number { if (v !== undefined) this.dv.setUint16(pos, v, true); return this.dv.getUint16(pos, true); }
  u32(pos: number, v?: number): number { if (v !== undefined) this.dv.setUint32(pos, v >>> 0, true); return this.dv.getUint32(pos, true); }
  flip(pos: number, xor = 0x01): void { this.bytes[pos]! ^= xor; }
}

/** Run fn and check it throws a CorruptionError of `kind` with `ctx` (a subset) and `detail`. */
function expectCorrupt(fn: () => unknown, kind: CorruptionKind, ctx: CorruptionContext = {}, detail?: RegExp): CorruptionError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof CorruptionError)) {
    assert.fail(`expected CorruptionError(${kind}), got ${caught === undefined ? 'no error' : String((caught as Error).stack ?? caught)}`);
  }
  assert.equal(caught.kind, kind, caught.message);
  for (const [k, v] of Object.entries(ctx)) {
    assert.equal(caught.context[k as keyof CorruptionContext], v, `context.${k} of: ${caught.message}`);
  }
  if (detail) assert.match(caught.detail, detail);
  assert.equal(caught.errno, Errno.EUCLEAN);
  return caught;
}

function expectUnsupported(fn: () => unknown, message: RegExp, errno?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UnsupportedError, `expected UnsupportedError, got ${String(e)}`);
    assert.match(e.message, message);
    if (errno !== undefined) assert.equal(e.errno, errno);
    return true;
  });
}

function readAll(vol: Volume, inode: Inode): Uint8Array {
  const out = new Uint8Array(inode.size);
  assert.equal(readFileRange(vol, inode, 0, out), inode.size);
  return out;
}

function names(vol: Volume, dir: Inode): string[] {
  const out: string[] = [];
  readDir(vol, dir, 0, (_ino, name) => { out.push(Buffer.from(name).toString('latin1')); return true; });
  return out;
}

/** Byte offsets (in the block) of the records of a linear directory block. */
function recordOffsets(img: Img, block: number): number[] {
  const base = img.blockPos(block);
  const out: number[] = [];
  for (let o = 0; o < img.bs; ) {
    out.push(o);
    const rl = img.u16(base + o + 4);
    assert.ok(rl >= 12, 'sound directory block');
    o += rl;
  }
  return out;
}

const SB = SUPERBLOCK_OFFSET;

describe('superblock', () => {
  test('bad magic: the open is refused with UnsupportedError (EINVAL)', () => {
    const img = new Img('ext4.img');
    img.u16(SB + off(Superblock, 's_magic'), 0x1234);
    expectUnsupported(() => img.open(), /magic 0x1234/, Errno.EINVAL);
  });

  test('an image too small to hold a superblock is refused', () => {
    const img = new Img('ext4.img');
    expectUnsupported(() => img.open({}, img.bytes.subarray(0, 1500)), /too small/, Errno.EINVAL);
  });

  test('s_inodes_count inconsistent with the groups', () => {
    const img = new Img('ext4.img');
    const p = SB + off(Superblock, 's_inodes_count');
    img.u32(p, img.u32(p) + 8);
    expectCorrupt(() => img.open(), 'superblock', { block: 0 }, /inode count \d+ != \d+ groups/);
  });

  test('s_blocks_count larger than the device', () => {
    const img = new Img('ext4.img');
    const p = SB + off(Superblock, 's_blocks_count_lo');
    img.u32(p, img.u32(p) * 2);
    expectCorrupt(() => img.open(), 'superblock', { block: 0 }, /exceeds the device size/);
  });

  test('a truncated image (device shorter than s_blocks_count)', () => {
    const img = new Img('ext2-1k.img');
    expectCorrupt(() => img.open({}, img.bytes.subarray(0, img.bytes.length / 2)), 'superblock', { block: 0 }, /truncated/);
  });

  test('s_blocks_count zero', () => {
    const img = new Img('ext2-1k.img');
    img.u32(SB + off(Superblock, 's_blocks_count_lo'), 0);
    expectCorrupt(() => img.open(), 'superblock', { block: 0 }, /block count is zero/);
  });

  for (const v of [7, 0x40, 0xffffffff]) {
    test(`s_log_block_size ${v}`, () => {
      const img = new Img('ext4.img');
      img.u32(SB + off(Superblock, 's_log_block_size'), v);
      expectCorrupt(() => img.open(), 'superblock', { block: 0 }, /block size .* above 64 KiB/);
    });
  }

  test('s_inodes_per_group zero', () => {
    const img = new Img('ext4.img');
    img.u32(SB + off(Superblock, 's_inodes_per_group'), 0);
    expectCorrupt(() => img.open(), 'superblock', { block: 0 }, /inodes per group/);
  });

  test('s_inode_size not a power of two', () => {
    const img = new Img('ext4.img');
    img.u16(SB + off(Superblock, 's_inode_size'), 200);
    expectCorrupt(() => img.open(), 'superblock', { block: 0 }, /inode size 200/);
  });

  test('an unknown incompat feature refuses the open', () => {
    const img = new Img('ext2-1k.img');
    const p = SB + off(Superblock, 's_feature_incompat');
    img.u32(p, img.u32(p) | 0x80000000);
    expectUnsupported(() => img.open(), /unsupported incompat/);
  });
});

describe('group descriptors', () => {
  const descPos = (img: Img, g: number) => img.blockPos(img.vol.gdtBlocks[0]!.block) + g * img.vol.geo.descSize;

  test('inode table past the end of the volume', () => {
    const img = new Img('ext4.img');
    img.u32(descPos(img, 0) + off(GroupDesc, 'bg_inode_table_lo'), img.vol.geo.blocksCount);
    expectCorrupt(() => img.open(), 'group-descriptor', { group: 0 }, /inode table at \d+ .* outside the volume/);
  });

  test('inode table running off the end (32-byte descriptors, last group)', () => {
    const img = new Img('ext2-1k.img');
    const g = img.vol.groupCount - 1;
    img.u32(descPos(img, g) + off(GroupDesc, 'bg_inode_table_lo'), img.vol.geo.blocksCount - 1);
    expectCorrupt(() => img.open(), 'group-descriptor', { group: g }, /inode table/);
  });

  test('block bitmap and inode bitmap out of range', () => {
    const img = new Img('ext4.img');
    img.u32(descPos(img, 0) + off(GroupDesc, 'bg_block_bitmap_lo'), 0xffffffff);
    expectCorrupt(() => img.open(), 'group-descriptor', { group: 0 }, /block bitmap/);
    const img2 = new Img('ext2-1k.img');
    img2.u32(descPos(img2, 0) + off(GroupDesc, 'bg_inode_bitmap_lo'), 0);
    expectCorrupt(() => img2.open(), 'group-descriptor', { group: 0 }, /inode bitmap/);
  });

  test('a hi half making a block number above 2^53 (was a RangeError)', () => {
    const img = new Img('ext4.img');
    img.u32(descPos(img, 0) + off(GroupDesc, 'bg_inode_bitmap_hi'), 0x0020_0000);
    expectCorrupt(() => img.open({ checksums: 'warn' }), 'group-descriptor', { group: 0 }, /above 2\^53/);
  });

  test('free inode count above inodes per group', () => {
    const img = new Img('ext2-1k.img');
    img.u16(descPos(img, 0) + off(GroupDesc, 'bg_free_inodes_count_lo'), 0xffff);
    expectCorrupt(() => img.open(), 'group-descriptor', { group: 0 }, /free inode count/);
  });
});

describe('inodes', () => {
  test('i_size above 2^53 (was a RangeError from Inode.size)', () => {
    const img = new Img('ext4.img');
    const ino = img.ino('/hello.txt');
    img.u32(img.inodePos(ino) + off(InodeRaw, 'i_size_high'), 0x0020_0000);
    const vol = img.open();
    expectCorrupt(() => vol.inodes.get(ino), 'inode', { ino, block: img.vol.inodes.locate(ino).block }, /above 2\^53/);
  });

  test('inode numbers out of range', () => {
    const img = new Img('ext4.img');
    const vol = img.open();
    for (const ino of [0, vol.geo.inodesCount + 1, 2 ** 40, 1.5]) expectCorrupt(() => vol.inodes.get(ino), 'inode', { ino }, /out of range/);
  });

  test('i_extra_isize past the inode', () => {
    const img = new Img('ext4.img');
    const ino = img.ino('/hello.txt');
    img.u16(img.inodePos(ino) + off(InodeRaw, 'i_extra_isize'), 200);
    const vol = img.open({ checksums: 'warn' });
    expectCorrupt(() => vol.inodes.get(ino), 'inode', { ino }, /i_extra_isize 200/);
  });
});

describe('extent trees', () => {
  /** ext4.img /hello.txt: a depth-0 tree in the inode. */
  function rootOf(path = '/hello.txt', name = 'ext4.img') {
    const img = new Img(name);
    const ino = img.ino(path);
    const root = img.inodePos(ino) + I_BLOCK_OFFSET;
    return { img, ino, root, vol: () => img.open({ checksums: 'warn' }) };
  }
  const read = (vol: Volume, ino: number) => () => readFileRange(vol, vol.inodes.get(ino), 0, new Uint8Array(4096));

  test('bad header magic', () => {
    const { img, ino, root, vol } = rootOf();
    img.u16(root + off(ExtentHeader, 'eh_magic'), 0xf30b);
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /bad extent header magic 0xf30b/);
  });

  test('eh_depth 6 (deeper than the kernel allows)', () => {
    const { img, ino, root, vol } = rootOf();
    img.u16(root + off(ExtentHeader, 'eh_depth'), 6);
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /depth 6 > 5/);
  });

  test('eh_entries > eh_max', () => {
    const { img, ino, root, vol } = rootOf();
    img.u16(root + off(ExtentHeader, 'eh_entries'), img.u16(root + off(ExtentHeader, 'eh_max')) + 1);
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /eh_entries \d+ > eh_max/);
  });

  test('eh_max larger than the i_block room', () => {
    const { img, ino, root, vol } = rootOf();
    img.u16(root + off(ExtentHeader, 'eh_max'), 5);
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /eh_max 5 does not fit/);
  });

  test('an extent mapping past the end of the volume', () => {
    const { img, ino, root, vol } = rootOf();
    const e = root + 12;
    img.u32(e + off(Extent, 'ee_start_lo'), img.vol.geo.blocksCount + 5);
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /outside the volume/);
    img.u32(e + off(Extent, 'ee_start_lo'), img.vol.geo.blocksCount - 1);
    img.u16(e + off(Extent, 'ee_len'), 2); // the last block of the run is past the end
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /outside the volume/);
  });

  test('an extent index pointing past the end of the volume', () => {
    const { img, ino, root, vol } = rootOf('/deep/depth1', 'ext4-deep-extents.img');
    assert.equal(img.u16(root + off(ExtentHeader, 'eh_depth')), 1);
    img.u32(root + 12 + off(ExtentIndex, 'ei_leaf_lo'), 0xfffffff0);
    expectCorrupt(read(vol(), ino), 'extent', { ino }, /index 0 points at block 4294967280 outside the volume/);
  });

  /** /deep/depth2: root (depth 2, in the inode) → index block (depth 1) → leaves. */
  function depth2() {
    const img = new Img('ext4-deep-extents.img');
    const ino = img.ino('/deep/depth2');
    const nodes: { block: number; depth: number }[] = [];
    walkRuns(img.vol, img.vol.inodes.get(ino), () => {}, (block, depth) => nodes.push({ block, depth }));
    const index = nodes.find((n) => n.depth === 1)!.block;
    const leaf = nodes.find((n) => n.depth === 0)!.block;
    assert.ok(index && leaf);
    return { img, ino, index, leaf };
  }

  test('an index block whose entry points at itself: depth mismatch, no loop', () => {
    const { img, ino, index } = depth2();
    img.u32(img.blockPos(index) + 12 + off(ExtentIndex, 'ei_leaf_lo'), index);
    const vol = img.open({ checksums: 'warn' });
    expectCorrupt(read(vol, ino), 'extent', { ino, block: index }, /node depth 1, expected 0/);
    expectCorrupt(() => walkRuns(vol, vol.inodes.get(ino), () => {}), 'extent', { ino, block: index }, /node depth 1, expected 0/);
  });

  test('a leaf rewritten as an index pointing back at its parent: depth mismatch, no loop', () => {
    const { img, ino, index, leaf } = depth2();
    const p = img.blockPos(leaf);
    img.u16(p + off(ExtentHeader, 'eh_depth'), 1);
    img.u16(p + off(ExtentHeader, 'eh_entries'), 1);
    img.u32(p + 12 + off(ExtentIndex, 'ei_block'), 0);
    img.u32(p + 12 + off(ExtentIndex, 'ei_leaf_lo'), index);
    img.u16(p + 12 + off(ExtentIndex, 'ei_leaf_hi'), 0);
    const vol = img.open({ checksums: 'warn' });
    expectCorrupt(read(vol, ino), 'extent', { ino, block: leaf }, /node depth 1, expected 0/);
    expectCorrupt(() => walkRuns(vol, vol.inodes.get(ino), () => {}), 'extent', { ino, block: leaf }, /node depth 1, expected 0/);
  });

  test('extents out of order in a leaf', () => {
    const { img, ino, leaf } = depth2();
    const p = img.blockPos(leaf) + 12 + 12 + off(Extent, 'ee_block'); // the second extent starts at the first's block
    img.u32(p, img.u32(img.blockPos(leaf) + 12 + off(Extent, 'ee_block')));
    const vol = img.open({ checksums: 'warn' });
    expectCorrupt(read(vol, ino), 'extent', { ino, block: leaf }, /overlaps or is out of order/);
  });

  test('reading far past logical block 2^32 under a damaged i_size ends with zeros (was a hang)', () => {
    const { img, ino } = rootOf();
    img.u32(img.inodePos(ino) + off(InodeRaw, 'i_size_high'), 0x10_0000); // 2^52 bytes
    const vol = img.open({ checksums: 'warn' });
    const inode = vol.inodes.get(ino);
    const dst = new Uint8Array(1 << 16).fill(7);
    const t0 = performance.now();
    assert.equal(readFileRange(vol, inode, 2 ** 50, dst), dst.length);
    assert.ok(dst.every((b) => b === 0));
    assert.ok(performance.now() - t0 < 1000);
  });
});

describe('indirect block maps (ext2-1k)', () => {
  test('a direct pointer past the end of the volume', () => {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/hello.txt');
    img.u32(img.inodePos(ino) + I_BLOCK_OFFSET, img.vol.geo.blocksCount + 100);
    const vol = img.open();
    expectCorrupt(() => readAll(vol, vol.inodes.get(ino)), 'indirect', { ino }, /outside the volume/);
    expectCorrupt(() => walkRuns(vol, vol.inodes.get(ino), () => {}), 'indirect', { ino }, /outside the volume/);
  });

  test('the single-indirect pointer past the end', () => {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/files/stamped-1m');
    img.u32(img.inodePos(ino) + I_BLOCK_OFFSET + 12 * 4, 0xfffffff0);
    const vol = img.open();
    const inode = vol.inodes.get(ino);
    expectCorrupt(() => readFileRange(vol, inode, 12 * img.bs, new Uint8Array(img.bs)), 'indirect', { ino, block: 0xfffffff0 });
    expectCorrupt(() => walkRuns(vol, inode, () => {}), 'indirect', { ino }, /i_block\[12\]/);
    // The direct blocks still read.
    assert.equal(readFileRange(vol, inode, 0, new Uint8Array(img.bs)), img.bs);
  });

  test('an entry of the single-indirect block past the end', () => {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/files/stamped-1m');
    const ind = img.u32(img.inodePos(ino) + I_BLOCK_OFFSET + 12 * 4);
    assert.ok(ind > 0);
    img.u32(img.blockPos(ind) + 4, img.vol.geo.blocksCount); // logical block 13
    const vol = img.open();
    const inode = vol.inodes.get(ino);
    expectCorrupt(() => readFileRange(vol, inode, 13 * img.bs, new Uint8Array(img.bs)), 'indirect', { ino }, /logical block 13/);
    expectCorrupt(() => walkRuns(vol, inode, () => {}), 'indirect', { ino }, /logical block 13/);
  });
});

describe('directory records (ext2-1k, linear /dir)', () => {
  function dir() {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/dir');
    const block = img.block('/dir');
    const recs = recordOffsets(img, block);
    assert.ok(recs.length >= 3, '/dir holds ".", ".." and entries');
    return { img, ino, block, recs, base: img.blockPos(block) };
  }
  const both = (vol: Volume, ino: number): (() => unknown)[] => [
    () => names(vol, vol.inodes.get(ino)),
    () => lookup(vol, vol.inodes.get(ino), enc('no-such-name')),
  ];

  test('rec_len 0', () => {
    const { img, ino, block, recs, base } = dir();
    img.u16(base + recs[2]! + 4, 0);
    const vol = img.open();
    for (const fn of both(vol, ino)) expectCorrupt(fn, 'dirent', { ino, block, offset: recs[2] }, /rec_len 0 is too small/);
  });

  test('rec_len running past the end of the block', () => {
    const { img, ino, block, recs, base } = dir();
    const last = recs[recs.length - 1]!;
    img.u16(base + last + 4, img.bs - last + 4);
    const vol = img.open();
    for (const fn of both(vol, ino)) expectCorrupt(fn, 'dirent', { ino, block, offset: last }, /runs past the end of the block/);
  });

  test('name_len larger than rec_len', () => {
    const { img, ino, block, recs, base } = dir();
    const r = recs[2]!;
    assert.ok(img.u16(base + r + 4) < 255 + 8);
    img.u8(base + r + 6, 255);
    const vol = img.open();
    for (const fn of both(vol, ino)) expectCorrupt(fn, 'dirent', { ino, block, offset: r }, /too small for a 255-byte name/);
  });

  test('rec_len not a multiple of 4', () => {
    const { img, ino, block, recs, base } = dir();
    img.u16(base + recs[1]! + 4, img.u16(base + recs[1]! + 4) + 2);
    expectCorrupt(() => names(img.open(), img.open().inodes.get(ino)), 'dirent', { ino, block, offset: recs[1] }, /multiple of 4/);
  });

  test('an entry naming an inode past s_inodes_count', () => {
    const { img, ino, block, recs, base } = dir();
    img.u32(base + recs[2]!, img.vol.geo.inodesCount + 1);
    const vol = img.open();
    expectCorrupt(() => names(vol, vol.inodes.get(ino)), 'dirent', { ino, block, offset: recs[2] }, /out of range/);
  });

  test('a directory whose i_size is not a multiple of the block size', () => {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/dir');
    img.u32(img.inodePos(ino) + off(InodeRaw, 'i_size_lo'), img.bs + 1);
    const vol = img.open();
    expectCorrupt(() => names(vol, vol.inodes.get(ino)), 'dirent', { ino }, /not a multiple of the block size/);
  });

  test('a directory with an i_size of 2^40 bytes of hole reads its entries at once (was a hang)', () => {
    for (const name of ['ext2-1k.img', 'ext4.img']) {
      const img = new Img(name);
      const ino = img.ino('/dir');
      const want = names(img.vol, img.vol.inodes.get(ino));
      img.u32(img.inodePos(ino) + off(InodeRaw, 'i_size_high'), 0x100);
      const vol = img.open({ checksums: 'warn' });
      const t0 = performance.now();
      assert.deepEqual(names(vol, vol.inodes.get(ino)), want);
      assert.ok(performance.now() - t0 < 1000, `${name}: readDir took ${performance.now() - t0} ms`);
    }
  });
  test('aliased indirect blocks repeating one block 2^24 times end with an error, not a 16M-block scan', () => {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/dir');
    // Four blocks of another file serve as triple, double and single indirect blocks and one empty dir block.
    const [t3, t2, t1, d] = [0, 1, 2, 3].map((i) => img.block('/bin/random-8k.bin', i)) as [number, number, number, number];
    for (let i = 0; i < img.bs / 4; i++) {
      img.u32(img.blockPos(t3) + i * 4, t2);
      img.u32(img.blockPos(t2) + i * 4, t1);
      img.u32(img.blockPos(t1) + i * 4, d);
    }
    img.bytes.fill(0, img.blockPos(d), img.blockPos(d) + img.bs);
    img.u16(img.blockPos(d) + 4, img.bs); // one empty record covering the block
    img.u32(img.inodePos(ino) + I_BLOCK_OFFSET + 14 * 4, t3);
    img.u32(img.inodePos(ino) + off(InodeRaw, 'i_size_high'), 1); // 4 GiB
    const vol = img.open();
    const t0 = performance.now();
    expectCorrupt(() => names(vol, vol.inodes.get(ino)), 'dirent', { ino }, /more blocks than the volume holds/);
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
  });
});

describe('htree (ext4-bigdir /bigdir, two levels)', () => {
  function bigdir() {
    const img = new Img('ext4-bigdir.img');
    const ino = img.ino('/bigdir');
    const root = img.block('/bigdir', 0);
    const some = names(img.vol, img.vol.inodes.get(ino)).find((n) => n !== '.' && n !== '..')!;
    assert.ok(lookup(img.vol, img.vol.inodes.get(ino), enc(some)) > 0);
    const info = img.blockPos(root) + DX_ROOT_INFO_OFFSET;
    const countLimit = info + 8;
    return { img, ino, root, some, info, countLimit, vol: () => img.open({ checksums: 'warn' }) };
  }
  const look = (vol: Volume, ino: number, name: string) => () => lookup(vol, vol.inodes.get(ino), enc(name));

  test('indirect_levels 5', () => {
    const { img, ino, root, some, info, vol } = bigdir();
    img.u8(info + off(DxRootInfo, 'indirect_levels'), 5);
    expectCorrupt(look(vol(), ino, some), 'htree', { ino, block: root }, /htree depth 5 exceeds the maximum 1/);
  });

  test('a bad limit', () => {
    const { img, ino, root, some, countLimit, vol } = bigdir();
    img.u16(countLimit, img.u16(countLimit) + 1);
    expectCorrupt(look(vol(), ino, some), 'htree', { ino, block: root }, /dx limit \d+, expected \d+/);
  });

  test('count 0 and count > limit', () => {
    const { img, ino, root, some, countLimit, vol } = bigdir();
    img.u16(countLimit + 2, 0);
    expectCorrupt(look(vol(), ino, some), 'htree', { ino, block: root }, /dx count 0/);
    img.u16(countLimit + 2, img.u16(countLimit) + 1);
    expectCorrupt(look(vol(), ino, some), 'htree', { ino, block: root }, /dx count \d+ out of range/);
  });

  test('an index entry pointing past the directory', () => {
    const { img, ino, some, countLimit, vol } = bigdir();
    const count = img.u16(countLimit + 2);
    for (let i = 0; i < count; i++) img.u32(countLimit + i * 8 + 4, 0x7fffffff); // every dx_entry's block
    expectCorrupt(look(vol(), ino, some), 'htree', { ino }, /beyond the directory/);
  });

  test('the root lacking its fake ".."', () => {
    const { img, ino, root, some, vol } = bigdir();
    img.u8(img.blockPos(root) + 12 + 8, 0x41);
    expectCorrupt(look(vol(), ino, some), 'htree', { ino, block: root }, /lacks "\.\."/);
  });

  test('readdir does not depend on the index', () => {
    const { img, ino, info, vol } = bigdir();
    const want = names(img.vol, img.vol.inodes.get(ino)).length;
    img.u8(info + off(DxRootInfo, 'indirect_levels'), 5);
    const v = vol();
    assert.equal(names(v, v.inodes.get(ino)).length, want);
  });
});

describe('extended attributes', () => {
  /** ext2-1k /xattr/block-big: one entry in an xattr block, no checksums. */
  function xblock() {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/xattr/block-big');
    const nr = img.vol.inodes.get(ino).fileAcl;
    assert.ok(nr > 0);
    const entry = img.blockPos(nr) + XATTR_BLOCK_HEADER_SIZE;
    return { img, ino, nr, entry };
  }
  const list = (vol: Volume, ino: number) => () => listXattrs(vol, vol.inodes.get(ino));

  test('an entry whose value runs past the block', () => {
    const { img, ino, nr, entry } = xblock();
    img.u32(entry + off(XattrEntryHeader, 'e_value_size'), img.bs);
    expectCorrupt(list(img.open(), ino), 'xattr', { block: nr }, /overlaps the entries or the end/);
  });

  test('an entry whose value offset is past the block', () => {
    const { img, ino, nr, entry } = xblock();
    img.u16(entry + off(XattrEntryHeader, 'e_value_offs'), img.bs + 4);
    expectCorrupt(list(img.open(), ino), 'xattr', { block: nr }, /e_value_offs \d+ out of bounds/);
  });

  test('an xattr block with a bad magic', () => {
    const { img, ino, nr } = xblock();
    img.u32(img.blockPos(nr), 0xea020001);
    expectCorrupt(list(img.open(), ino), 'xattr', { block: nr }, /bad block magic 0xea020001/);
  });

  test('i_file_acl past the end of the volume', () => {
    const { img, ino } = xblock();
    img.u32(img.inodePos(ino) + off(InodeRaw, 'i_file_acl_lo'), img.vol.geo.blocksCount + 1);
    expectCorrupt(list(img.open(), ino), 'xattr', { ino, block: img.vol.geo.blocksCount + 1 }, /outside the volume/);
  });

  test('an in-inode entry whose value runs past the inode (ext4)', () => {
    const img = new Img('ext4.img');
    const ino = img.ino('/xattr/inode-small');
    const inode = img.vol.inodes.get(ino);
    const region = img.inodePos(ino) + 128 + inode.extraIsize;
    assert.equal(img.u32(region), 0xea020000, 'in-inode xattr magic');
    img.u32(region + XATTR_IBODY_HEADER_SIZE + off(XattrEntryHeader, 'e_value_size'), 1000);
    expectCorrupt(list(img.open({ checksums: 'warn' }), ino), 'xattr', { ino }, /overlaps the entries or the end/);
  });
});

describe('symlinks', () => {
  test('a slow symlink longer than a block, and an empty one', () => {
    const img = new Img('ext2-1k.img');
    const ino = img.ino('/links/slow');
    const p = img.inodePos(ino) + off(InodeRaw, 'i_size_lo');
    img.u32(p, img.bs + 1);
    expectCorrupt(() => { const v = img.open(); return readLink(v, v.inodes.get(ino)); }, 'symlink', { ino }, /longer than a block/);
    img.u32(p, 0);
    expectCorrupt(() => { const v = img.open(); return readLink(v, v.inodes.get(ino)); }, 'symlink', { ino }, /empty/);
  });
});

describe('checksums (metadata_csum): error by default, a log line with checksums: warn', () => {
  /**
   * Run `act` on the sound image, `damage` it, then: with 'error' the action throws
   * a 'checksum' CorruptionError with `ctx` (at open when `atOpen`); with 'warn'
   * it logs a checksum line and returns what it returned on the sound image.
   */
  function check(img: Img, damage: () => void, atOpen: boolean, ctx: CorruptionContext, act: (vol: Volume) => unknown): void {
    const want = act(img.vol);
    damage();
    if (atOpen) expectCorrupt(() => img.open(), 'checksum', ctx);
    else { const vol = img.open(); expectCorrupt(() => act(vol), 'checksum', ctx); }
    const log = memoryLogger();
    const vol = img.open({ checksums: 'warn', log });
    assert.deepEqual(act(vol), want);
    assert.ok(log.lines.some((l) => /warn: corrupt checksum/.test(l)), `a checksum warning was logged: ${JSON.stringify(log.lines)}`);
  }

  test('superblock', () => {
    const img = new Img('ext4.img');
    check(img, () => img.flip(SB + off(Superblock, 's_volume_name'), 0x20),
      true, { block: 0 }, (vol) => vol.sb.s_inodes_count);
  });

  test('group descriptor', () => {
    const img = new Img('ext4.img');
    check(img, () => img.flip(img.blockPos(img.vol.gdtBlocks[0]!.block) + off(GroupDesc, 'bg_free_blocks_count_lo')),
      true, { group: 0 }, (vol) => vol.group(0).inodeTable);
  });

  test('inode', () => {
    const img = new Img('ext4.img');
    const ino = img.ino('/hello.txt');
    check(img, () => img.flip(img.inodePos(ino) + off(InodeRaw, 'i_mtime')),
      false, { ino, block: img.vol.inodes.locate(ino).block }, (vol) => readAll(vol, vol.inodes.get(ino)));
  });

  test('directory leaf block', () => {
    const img = new Img('ext4.img');
    const ino = img.ino('/dir');
    const block = img.block('/dir');
    const third = recordOffsets(img, block)[2]!;
    // One byte of the third name changes; the walk reads on and sees that name altered.
    check(img, () => img.flip(img.blockPos(block) + third + 8, 0x20),
      false, { ino, block }, (vol) => names(vol, vol.inodes.get(ino)).length);
  });

  test('extent tree block', () => {
    const img = new Img('ext4-deep-extents.img');
    const ino = img.ino('/deep/depth1');
    let leaf = 0;
    walkRuns(img.vol, img.vol.inodes.get(ino), () => {}, (b) => { leaf = b; });
    const p = img.blockPos(leaf);
    const entries = img.u16(p + off(ExtentHeader, 'eh_entries'));
    assert.ok(entries < img.u16(p + off(ExtentHeader, 'eh_max')), 'an unused slot to damage');
    check(img, () => img.flip(p + 12 + entries * 12 + 3), // inside the checksummed area, outside the live entries
      false, { ino, block: leaf }, (vol) => readAll(vol, vol.inodes.get(ino)));
  });

  test('xattr block', () => {
    const img = new Img('ext4.img');
    const ino = img.ino('/xattr/block-big');
    const nr = img.vol.inodes.get(ino).fileAcl;
    check(img, () => img.flip(img.blockPos(nr) + img.bs - 8), // inside the (end-packed) value
      false, { ino, block: nr }, (vol) => listXattrs(vol, vol.inodes.get(ino)).length);
  });

  test('htree node', () => {
    const img = new Img('ext4-bigdir.img');
    const ino = img.ino('/bigdir');
    const root = img.block('/bigdir', 0);
    const some = names(img.vol, img.vol.inodes.get(ino))[5]!;
    check(img, () => img.flip(img.blockPos(root) + DX_ROOT_INFO_OFFSET + off(DxRootInfo, 'unused_flags')),
      false, { ino, block: root }, (vol) => lookup(vol, vol.inodes.get(ino), enc(some)));
  });

  test('a whole-tree walk with checksums: warn gets through every damaged object', () => {
    const img = new Img('ext4.img');
    const want = walkTree(img.vol);
    img.flip(SB + off(Superblock, 's_volume_name'), 0x20);
    img.flip(img.blockPos(img.vol.gdtBlocks[0]!.block) + off(GroupDesc, 'bg_free_blocks_count_lo'));
    img.flip(img.inodePos(img.ino('/hello.txt')) + off(InodeRaw, 'i_mtime'));
    img.flip(img.blockPos(img.vol.inodes.get(img.ino('/xattr/block-big')).fileAcl) + img.bs - 8);
    expectCorrupt(() => img.open(), 'checksum', { block: 0 });
    const log = memoryLogger();
    const got = walkTree(img.open({ checksums: 'warn', log }));
    assert.equal(got.inodes, want.inodes);
    assert.equal(got.bytes, want.bytes);
    assert.equal(got.errors, 0);
    assert.ok(log.lines.length >= 4, log.lines.join('\n'));
  });
});

test('the locators agree with debugfs', { skip: !hasTool('debugfs') && 'debugfs not installed' }, () => {
  const img = new Img('ext4-deep-extents.img');
  const path = '/deep/depth2';
  const file = imagePath('ext4-deep-extents.img');
  // "Inode 14 is part of block group 0\n\tlocated at block 36, offset 0x0f00"
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(file, `imap ${path}`))!;
  assert.equal(img.inodePos(img.ino(path)), Number(m[1]) * img.bs + parseInt(m[2]!, 16));
  // "ex" lists the tree; its interior nodes are the blocks walkRuns reports as metadata.
  const ours: number[] = [];
  walkRuns(img.vol, img.inode(path), () => {}, (b) => ours.push(b));
  const interior = new Set<number>();
  for (const line of debugfs(file, `ex ${path}`).split('\n')) {
    const f = /^\s*(\d+)\/\s*(\d+)\s+\d+\/\s*\d+\s+\d+\s+-\s+\d+\s+(\d+)/.exec(line);
    if (f && Number(f[1]) < Number(f[2])) interior.add(Number(f[3]));
  }
  assert.deepEqual([...new Set(ours)].sort((a, b) => a - b), [...interior].sort((a, b) => a - b));
  const bmap = Number(debugfs(file, `bmap ${path} 0`).trim());
  assert.equal(img.block(path, 0), bmap);
});
