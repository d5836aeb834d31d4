// Fuzzing the read path: flip 1–8 bytes of an image's metadata (superblock,
// group descriptors, bitmaps, inodes in use, extent/indirect blocks, directory
// blocks, xattr blocks), open the damaged copy with checksums 'warn' and 'error',
// and walk the whole tree. The oracle: every outcome is a result or a typed
// error (CorruptionError / UnsupportedError), within a time bound and without
// a large heap growth.
//
// FUZZ_RUNS (default 200) cases in all, split over the images; `FUZZ_RUNS=20000`
// is the long run. FUZZ_SEED replays a seed; FUZZ_TRACE=FILE writes each case
// to FILE before running it (a hang cannot be caught in-process, this names it);
// FUZZ_VERBOSE=1 prints the outcome tally; FUZZ_IMAGES=a.img,b.img picks the
// images (default ext4.img,ext2-1k.img).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { CorruptionError, UnsupportedError } from '../../src/ext2/errors.js';
import { isFastSymlink, walkRuns } from '../../src/ext2/file.js';
import { Volume } from '../../src/ext2/volume.js';
import { MemoryDevice } from '../../src/io/block-device.js';
import { makeLogger } from '../../src/util/log.js';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from '../../src/ext2/layout/superblock.js';
import { imageBytes, walkTree } from '../helpers/walk.js';

const IMAGES = (process.env.FUZZ_IMAGES ?? 'ext4.img,ext2-1k.img').split(',');
const RUNS = Math.max(1, Math.ceil(Number(process.env.FUZZ_RUNS ?? 200) / IMAGES.length));
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const TRACE = process.env.FUZZ_TRACE;
const TIME_BOUND_MS = Number(process.env.FUZZ_TIME_BOUND_MS ?? 2000);
const HEAP_BOUND = 256 * 1024 * 1024;
const quiet = makeLogger(() => {});

/** A byte range of the image worth damaging, with a label for failure reports. */
interface Region {
  label: string;
  start: number;
  length: number;
}

const KINDS = ['superblock', 'gdt', 'bitmap', 'inode', 'map', 'dir', 'xattr'] as const;
type Kind = (typeof KINDS)[number];

/** The metadata byte ranges of a sound image, by kind, found by walking it with our own API. */
function metadataRegions(image: Uint8Array): Map<Kind, Region[]> {
  const vol = Volume.open(new MemoryDevice(image, true), { readOnly: true, noRecovery: true, log: quiet });
  const bs = vol.blockSize;
  const out = new Map<Kind, Region[]>(KINDS.map((k) => [k, []]));
  const add = (kind: Kind, r: Region) => out.get(kind)!.push(r);
  const seenBlocks = new Set<number>();
  const block = (kind: Kind, label: string, nr: number): void => {
    if (seenBlocks.has(nr)) return;
    seenBlocks.add(nr);
    add(kind, { label: `${label} block ${nr}`, start: nr * bs, length: bs });
  };
  add('superblock', { label: 'superblock', start: SUPERBLOCK_OFFSET, length: SUPERBLOCK_SIZE });
  const descBytes = vol.groupCount * vol.geo.descSize;
  vol.gdtBlocks.forEach((g, i) => {
    add('gdt', { label: `GDT block ${g.block}`, start: g.block * bs, length: Math.min(bs, descBytes - i * bs) });
  });
  for (let g = 0; g < vol.groupCount; g++) {
    const gd = vol.group(g);
    block('bitmap', 'block bitmap', gd.blockBitmap);
    block('bitmap', 'inode bitmap', gd.inodeBitmap);
  }
  const inos: number[] = [];
  walkTree(vol, { hash: false, lookups: false, maxFileBytes: 0, onInode: (i) => inos.push(i.ino) });
  for (const ino of inos) {
    const loc = vol.inodes.locate(ino);
    add('inode', { label: `inode ${ino}`, start: loc.block * bs + loc.offset, length: vol.geo.inodeSize });
    const inode = vol.inodes.get(ino);
    const mapped = inode.isDir || inode.isReg || (inode.isSymlink && !isFastSymlink(vol, inode));
    if (mapped) {
      walkRuns(vol, inode, (r) => {
        if (!inode.isDir) return;
        for (let i = 0; i < Math.min(r.length, 64); i++) block('dir', `dir ${ino}`, r.physical + i);
      }, (nr) => block('map', `map of ${ino}`, nr));
    }
    if (inode.fileAcl !== 0) block('xattr', `xattr of ${ino}`, inode.fileAcl);
  }
  vol.close();
  for (const k of KINDS) if (out.get(k)!.length === 0) out.delete(k);
  return out;
}

/**
 * One change: XOR a byte with `xor`, or (with `set`) overwrite an aligned
 * 2- or 4-byte field with an interesting value (limits, the volume's block and
 * inode counts and their neighbours), which reaches range checks that random
 * bytes rarely hit.
 */
interface Flip { kind: number; region: number; at: number; xor: number; set?: { width: 2 | 4; value: number | Sym } }
type Sym = 'blocks-1' | 'blocks' | 'inodes' | 'inodes+1' | 'blocksize';

interface Geometry { blocks: number; inodes: number; blockSize: number }

function symValue(v: number | Sym, g: Geometry): number {
  switch (v) {
    case 'blocks-1': return g.blocks - 1;
    case 'blocks': return g.blocks;
    case 'inodes': return g.inodes;
    case 'inodes+1': return g.inodes + 1;
    case 'blocksize': return g.blockSize;
    default: return v;
  }
}

function resolveFlip(regions: Map<Kind, Region[]>, f: Flip, g: Geometry): { pos: number; bytes: number[]; label: string } {
  const kinds = [...regions.keys()];
  const list = regions.get(kinds[f.kind % kinds.length]!)!;
  const r = list[f.region % list.length]!;
  if (f.set && r.length >= f.set.width) {
    const w = f.set.width;
    const off = (f.at % (r.length - w + 1)) & ~(w - 1);
    const v = symValue(f.set.value, g) >>> 0;
    const bytes = w === 2 ? [v & 0xff, (v >>> 8) & 0xff] : [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    return { pos: r.start + off, bytes, label: `${r.label} +${off} =u${w * 8} ${f.set.value}` };
  }
  const off = f.at % r.length;
  return { pos: r.start + off, bytes: [], label: `${r.label} +${off} ^0x${f.xor.toString(16)}` };
}

function describe(regions: Map<Kind, Region[]>, flips: Flip[], g: Geometry): string {
  return flips.map((f) => resolveFlip(regions, f, g).label).join('; ');
}

/** Apply the changes in place, run, and restore the saved bytes in reverse order. */
function withFlips<T>(image: Uint8Array, regions: Map<Kind, Region[]>, flips: Flip[], g: Geometry, fn: () => T): T {
  const undo: { pos: number; old: Uint8Array }[] = [];
  for (const f of flips) {
    const { pos, bytes } = resolveFlip(regions, f, g);
    if (bytes.length === 0) {
      undo.push({ pos, old: image.slice(pos, pos + 1) });
      image[pos]! ^= f.xor;
    } else {
      undo.push({ pos, old: image.slice(pos, pos + bytes.length) });
      image.set(bytes, pos);
    }
  }
  try {
    return fn();
  } finally {
    for (let i = undo.length - 1; i >= 0; i--) image.set(undo[i]!.old, undo[i]!.pos);
  }
}

type Outcome = 'clean' | 'typed-errors' | 'open-refused';

/** Open and walk (going on past typed errors); returns how it ended or throws an untyped error. */
function openAndWalk(image: Uint8Array, checksums: 'warn' | 'error'): Outcome {
  let vol: Volume;
  try {
    vol = Volume.open(new MemoryDevice(image, true), { readOnly: true, noRecovery: true, checksums, log: quiet, cacheBytes: 4 << 20 });
  } catch (e) {
    if (e instanceof CorruptionError || e instanceof UnsupportedError) return 'open-refused';
    throw e;
  }
  const s = walkTree(vol, { hash: false, chunk: 16 << 10, maxFileBytes: 16 << 10, onError: () => {} });
  vol.close();
  return s.errors > 0 ? 'typed-errors' : 'clean';
}

const flipsArb = fc.array(
  fc.record({
    kind: fc.nat({ max: KINDS.length - 1 }),
    region: fc.nat({ max: 1 << 16 }),
    at: fc.nat({ max: 1 << 16 }),
    xor: fc.oneof(fc.constantFrom(0x01, 0x80, 0xff), fc.integer({ min: 1, max: 255 })),
    set: fc.option(fc.record({
      width: fc.constantFrom(2 as const, 4 as const),
      value: fc.oneof(
        fc.constantFrom<number | Sym>(0, 1, 2, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff),
        fc.constantFrom<number | Sym>('blocks-1', 'blocks', 'inodes', 'inodes+1', 'blocksize'),
      ),
    }), { nil: undefined, freq: 3 }),
  }, { requiredKeys: ['kind', 'region', 'at', 'xor'] }),
  { minLength: 1, maxLength: 8 },
);

for (const name of IMAGES) {
  test(`fuzz-read: ${name}, ${RUNS} cases`, { timeout: Math.max(120_000, RUNS * 2 * TIME_BOUND_MS) }, () => {
    const image = imageBytes(name);
    const regions = metadataRegions(image);
    const sound = Volume.open(new MemoryDevice(image, true), { readOnly: true, noRecovery: true, log: quiet });
    const geo: Geometry = { blocks: sound.geo.blocksCount, inodes: sound.geo.inodesCount, blockSize: sound.blockSize };
    assert.ok(regions.size >= 5, `metadata kinds found: ${[...regions.keys()].join(', ')}`);
    const tally: Record<string, number> = {};
    let slowest = 0;
    let maxGrowth = 0;
    fc.assert(
      fc.property(flipsArb, (flips) => {
        for (const mode of ['warn', 'error'] as const) {
          if (TRACE) writeFileSync(TRACE, `${name} checksums=${mode}: [${describe(regions, flips, geo)}]\n${JSON.stringify(flips)}\n`);
          const heap0 = process.memoryUsage().heapUsed;
          const t0 = performance.now();
          let outcome: Outcome;
          try {
            outcome = withFlips(image, regions, flips, geo, () => openAndWalk(image, mode));
          } catch (e) {
            const err = e as Error;
            throw new Error(`checksums=${mode}: untyped ${err?.name}: ${err?.message} after [${describe(regions, flips, geo)}]\n${err?.stack}`);
          }
          const ms = performance.now() - t0;
          const grew = process.memoryUsage().heapUsed - heap0;
          slowest = Math.max(slowest, ms);
          maxGrowth = Math.max(maxGrowth, grew);
          tally[`${mode}:${outcome}`] = (tally[`${mode}:${outcome}`] ?? 0) + 1;
          assert.ok(ms < TIME_BOUND_MS, `checksums=${mode}: took ${ms.toFixed(0)} ms after [${describe(regions, flips, geo)}]`);
          assert.ok(grew < HEAP_BOUND, `checksums=${mode}: heap grew ${(grew / 2 ** 20).toFixed(0)} MiB after [${describe(regions, flips, geo)}]`);
        }
      }),
      { numRuns: RUNS, includeErrorInReport: true, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    // Every case undid its flips: the image must walk cleanly again.
    assert.equal(openAndWalk(image, 'error'), 'clean');
    if (process.env.FUZZ_VERBOSE) {
      const counts = [...regions].map(([k, v]) => `${k}:${v.length}`).join(' ');
      console.log(`${name}: regions ${counts}; outcomes ${JSON.stringify(tally)}; slowest ${slowest.toFixed(0)} ms; max heap growth ${(maxGrowth / 2 ** 20).toFixed(1)} MiB`);
    }
  });
}
