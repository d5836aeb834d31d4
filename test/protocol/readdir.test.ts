// READDIR / READDIRPLUS packing: 8-byte aligned records, next-offset cookies,
// whole records only ("did not fit"), lookup counts only for entries that
// fitted and are not "." / "..". Protocol note §2.1, §2.2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirentBuffer } from '../../src/fuse/dirent.js';
import { MemFs } from '../helpers/memfs.js';
import { Harness, Opcode, cstr, request } from './raw.js';

interface Rec { ino: number; off: number; name: string; type: number; nodeid?: number; recLen: number }

function parseDirents(p: Buffer, plus: boolean): Rec[] {
  const out: Rec[] = [];
  let o = 0;
  while (o < p.length) {
    const base = plus ? o + 128 : o;
    const namelen = p.readUInt32LE(base + 16);
    const recLen = (base - o + 24 + namelen + 7) & ~7;
    out.push({
      ino: Number(p.readBigUInt64LE(base)), off: Number(p.readBigUInt64LE(base + 8)), type: p.readUInt32LE(base + 20),
      name: p.subarray(base + 24, base + 24 + namelen).toString('latin1'), recLen,
      ...(plus ? { nodeid: Number(p.readBigUInt64LE(o)) } : {}),
    });
    // Padding is zeroed.
    assert.ok(p.subarray(base + 24 + namelen, o + recLen).every((b) => b === 0));
    o += recLen;
  }
  assert.equal(o, p.length, 'records fill the reply exactly');
  return out;
}

function setup(names: string[]) {
  const fs = new MemFs();
  const h = new Harness(fs);
  h.init();
  for (const n of names) {
    const m = Buffer.alloc(8);
    m.writeUInt32LE(0o755, 0);
    assert.equal(h.one(request(Opcode.MKDIR, Buffer.concat([m, cstr(n)]))).error, 0);
  }
  // Drop the lookups MKDIR counted, so readdirplus counts can be checked alone.
  for (const node of fs.nodes.values()) if (node.ino !== 1) node.nlookup = 0;
  const od = h.one(request(Opcode.OPENDIR, Buffer.alloc(8)));
  const fh = od.payload.readBigUInt64LE(0);
  const read = (op: number, offset: number, size: number) => {
    const b = Buffer.alloc(40);
    b.writeBigUInt64LE(fh, 0);
    b.writeBigUInt64LE(BigInt(offset), 8);
    b.writeUInt32LE(size, 16);
    const r = h.one(request(op, b));
    assert.equal(r.error, 0);
    return r.payload;
  };
  return { fs, h, read };
}

test('READDIR: aligned records, DT types, next-offset cookies, resume from a cookie', () => {
  const { read } = setup(['a', 'bbbbbbbbb', 'c']);
  const all = parseDirents(read(Opcode.READDIR, 0, 4096), false);
  assert.deepEqual(all.map((r) => [r.name, r.off, r.type]), [['.', 1, 4], ['..', 2, 4], ['a', 3, 4], ['bbbbbbbbb', 4, 4], ['c', 5, 4]]);
  assert.deepEqual(all.map((r) => r.recLen), [32, 32, 32, 40, 32]);
  assert.equal(all[0]!.ino, 1);
  const rest = parseDirents(read(Opcode.READDIR, 3, 4096), false);
  assert.deepEqual(rest.map((r) => r.name), ['bbbbbbbbb', 'c']);
  assert.equal(read(Opcode.READDIR, 5, 4096).length, 0, 'empty reply = end of directory');
});

test('READDIR: a small buffer takes only whole records', () => {
  const { read } = setup(['a', 'bbbbbbbbb', 'c']);
  const p = read(Opcode.READDIR, 0, 100);
  const recs = parseDirents(p, false);
  assert.deepEqual(recs.map((r) => r.name), ['.', '..', 'a']);
  assert.equal(p.length, 96);
  // Continue from the last cookie and get the rest.
  const next = parseDirents(read(Opcode.READDIR, recs.at(-1)!.off, 100), false);
  assert.deepEqual(next.map((r) => r.name), ['bbbbbbbbb', 'c']);
});

test('READDIRPLUS: entry_out per record; "." and ".." have nodeid 0; lookups counted only for fitted entries', () => {
  const { fs, read } = setup(['a', 'bb', 'ccc']);
  // 152 + 1 -> 160 per one-char name; 3 records fit in 480 + 8.
  const p = read(Opcode.READDIRPLUS, 0, 488);
  const recs = parseDirents(p, true);
  assert.deepEqual(recs.map((r) => [r.name, r.nodeid, r.off]), [['.', 0, 1], ['..', 0, 2], ['a', 2, 3]]);
  assert.deepEqual(recs.map((r) => r.recLen), [160, 160, 160]);
  assert.equal(recs[0]!.ino, 1, 'dirent ino from attr.ino even when nodeid is 0');
  assert.equal(fs.nodes.get(2)!.nlookup, 1);
  assert.equal(fs.nodes.get(3)!.nlookup, 0, '"bb" did not fit: not counted');
  const more = parseDirents(read(Opcode.READDIRPLUS, 3, 4096), true);
  assert.deepEqual(more.map((r) => [r.name, r.nodeid]), [['bb', 3], ['ccc', 4]]);
  // entry_out attributes are real.
  assert.equal(p.readUInt32LE(320 + 40 + 60), 0o040755, 'mode of "a"');
  assert.equal(fs.nodes.get(3)!.nlookup, 1);
  assert.equal(fs.nodes.get(4)!.nlookup, 1);
});

test('DirentBuffer refuses what does not fit and keeps earlier records intact', () => {
  const region = Buffer.alloc(64);
  const b = new DirentBuffer(region).reset(64);
  assert.equal(b.add('x', 5, 8, 1), true);
  assert.equal(b.add('yyyyyyyyy', 6, 8, 2), false, '24 + 9 -> 40 > 32 left');
  assert.equal(b.full, true);
  assert.equal(b.add('z', 7, 8, 3), true, 'a smaller record still fits');
  assert.equal(b.pos, 64);
  assert.equal(region.readBigUInt64LE(0), 5n, 'the first record is intact');
  assert.equal(region.toString('latin1', 24, 25), 'x');
  assert.equal(region.readBigUInt64LE(32 + 8), 3n, 'cookie of the second record');
  assert.equal(b.add('', 1, 1, 1), false, 'empty names are refused');
  // The clamp: a request size larger than the region.
  assert.equal(new DirentBuffer(region).reset(1 << 20).add('q'.repeat(40), 1, 8, 1), true);
  assert.equal(new DirentBuffer(region).reset(1 << 20).add('q'.repeat(41), 1, 8, 1), false);
});
