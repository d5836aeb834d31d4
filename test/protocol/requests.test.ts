// Raw requests through the dispatcher (no mount): reply layouts, malformed
// input, unknown opcodes, no-reply opcodes, thrown errors, xattr probes,
// notifications after the reply. Protocol note §1.1, §1.3, §1.7, §2.3, §2.4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FuseAttr, FuseEntryOut } from '../../src/fuse/abi-structs.js';
import type { FuseOps } from '../../src/fuse/ops.js';
import { MemFs } from '../helpers/memfs.js';
import { Harness, Opcode, cstr, request } from './raw.js';

const EINVAL = -22, ENOSYS = -38, EIO = -5, ENODATA = -61, ERANGE = -34, ENOENT = -2;

function ready(ops: FuseOps = new MemFs(), opts = {}): Harness {
  const h = new Harness(ops, opts);
  assert.equal(h.init().error, 0);
  return h;
}

function mkdirBody(name: string, mode = 0o755): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(mode, 0);
  return Buffer.concat([b, cstr(name)]);
}

test('LOOKUP reply: 16 + 128 bytes, fuse_entry_out layout with attr at 40', () => {
  const fs = new MemFs();
  const h = ready(fs, { entryTimeout: 2.5, attrTimeout: 7 });
  const mk = h.one(request(Opcode.MKDIR, mkdirBody('sub')));
  assert.equal(mk.error, 0);
  const r = h.one(request(Opcode.LOOKUP, cstr('sub'), { unique: 4242 }));
  assert.equal(r.error, 0);
  assert.equal(r.len, 16 + 128);
  assert.equal(r.unique, 4242n);
  const p = r.payload;
  const e = new FuseEntryOut(p);
  const a = new FuseAttr(p, 40);
  assert.equal(e.nodeid, 2);
  assert.equal(e.generation, 1);
  assert.equal(e.entry_valid, 2);
  assert.equal(e.entry_valid_nsec, 500_000_000);
  assert.equal(e.attr_valid, 7);
  assert.equal(e.attr_valid_nsec, 0);
  assert.equal(a.ino, 2);
  assert.equal(a.mode, 0o040755);
  assert.equal(a.nlink, 2);
  assert.equal(a.blksize, 4096);
  assert.equal(fs.nodes.get(2)!.nlookup, 2, 'MKDIR and LOOKUP each count one lookup');
  // Missing name -> ENOENT, with the request's unique.
  const miss = h.one(request(Opcode.LOOKUP, cstr('nope'), { unique: 4244 }));
  assert.deepEqual([miss.error, miss.len, miss.unique], [ENOENT, 16, 4244n]);
});

test('GETATTR: fuse_attr_out of 104 bytes; negative times round-trip as two\'s complement', () => {
  const fs = new MemFs();
  fs.nodes.get(1)!.mtime = { sec: -86400, nsec: 5 };
  const h = ready(fs);
  const r = h.one(request(Opcode.GETATTR, Buffer.alloc(16)));
  assert.equal(r.len, 16 + 104);
  assert.equal(r.payload.readBigInt64LE(16 + 32), -86400n);
  assert.equal(r.payload.readUInt32LE(16 + 52), 5);
});

test('malformed requests: EINVAL replies, nothing thrown, one write each', () => {
  const h = ready();
  const cases: [string, Buffer][] = [
    ['len field larger than the read', request(Opcode.GETATTR, Buffer.alloc(16), { len: 200 })],
    ['argument struct cut short', request(Opcode.GETATTR, Buffer.alloc(8))],
    ['name without NUL', request(Opcode.LOOKUP, Buffer.from('abc'))],
    ['empty name', request(Opcode.LOOKUP, Buffer.from([0]))],
    ['name with a slash', request(Opcode.LOOKUP, cstr('a/b'))],
    ['rename with one name', request(Opcode.RENAME, Buffer.concat([Buffer.alloc(8), cstr('a')]))],
    ['write size beyond payload', (() => {
      const w = Buffer.alloc(40); w.writeUInt32LE(1000, 16);
      return request(Opcode.WRITE, Buffer.concat([w, Buffer.alloc(10)]));
    })()],
    ['setxattr value beyond payload', (() => {
      const s = Buffer.alloc(8); s.writeUInt32LE(50, 0);
      return request(Opcode.SETXATTR, Buffer.concat([s, cstr('user.a'), Buffer.alloc(3)]));
    })()],
    ['batch forget count beyond payload is dropped, not answered', (() => {
      const b = Buffer.alloc(8); b.writeUInt32LE(5, 0);
      return request(Opcode.BATCH_FORGET, b, { nodeid: 0 });
    })()],
  ];
  for (const [what, req] of cases) {
    const before = h.w.calls;
    const replies = h.feed(req);
    if (what.startsWith('batch forget')) {
      assert.equal(replies.length, 0, what);
      continue;
    }
    assert.equal(replies.length, 1, what);
    assert.equal(h.w.calls - before, 1, what);
    assert.equal(replies[0]!.error, EINVAL, what);
    assert.equal(replies[0]!.len, 16, what);
  }
  // Shorter than fuse_in_header: nothing to reply to.
  assert.equal(h.feed(Buffer.alloc(20)).length, 0);
  assert.ok(h.logs.some((l) => l.includes('dropped')));
});

test('unknown opcodes get ENOSYS (including SETUPMAPPING and a future 54)', () => {
  const h = ready();
  for (const op of [7, 19, 48, 54, 4095, 99999]) {
    const r = h.one(request(op, Buffer.alloc(8), { unique: 10 + op * 2 }));
    assert.equal(r.error, ENOSYS, `opcode ${op}`);
    assert.equal(r.unique, BigInt(10 + op * 2));
  }
});

test('FORGET and BATCH_FORGET send no reply and drop lookup counts', () => {
  const fs = new MemFs();
  const h = ready(fs);
  h.one(request(Opcode.MKDIR, mkdirBody('a')));
  h.one(request(Opcode.MKDIR, mkdirBody('b')));
  for (let i = 0; i < 3; i++) h.one(request(Opcode.LOOKUP, cstr('a')));
  assert.equal(fs.nodes.get(2)!.nlookup, 4);
  const f = Buffer.alloc(8);
  f.writeBigUInt64LE(3n);
  assert.deepEqual(h.feed(request(Opcode.FORGET, f, { nodeid: 2 })), []);
  assert.equal(fs.nodes.get(2)!.nlookup, 1);
  const bf = Buffer.alloc(8 + 32);
  bf.writeUInt32LE(2, 0);
  bf.writeBigUInt64LE(2n, 8); bf.writeBigUInt64LE(1n, 16);
  bf.writeBigUInt64LE(3n, 24); bf.writeBigUInt64LE(1n, 32);
  assert.deepEqual(h.feed(request(Opcode.BATCH_FORGET, bf, { nodeid: 0 })), []);
  assert.equal(fs.nodes.get(2)!.nlookup, 0);
  assert.equal(fs.nodes.get(3)!.nlookup, 0);
  assert.deepEqual(fs.problems, []);
});

test('a thrown Error becomes EIO with one log line; a thrown errno-carrying object its errno', () => {
  class Corrupt extends Error { readonly errno = 117; }
  let mode: 'plain' | 'errno' | 'forget' = 'plain';
  const ops: FuseOps = {
    getattr: () => { throw mode === 'plain' ? new Error('boom') : new Corrupt('bad extent'); },
    forget: () => { throw new Error('forget boom'); },
  };
  const h = ready(ops);
  const r1 = h.one(request(Opcode.GETATTR, Buffer.alloc(16)));
  assert.equal(r1.error, EIO);
  assert.equal(h.logs.filter((l) => l.includes('boom')).length, 1);
  mode = 'errno';
  assert.equal(h.one(request(Opcode.GETATTR, Buffer.alloc(16))).error, -117);
  assert.ok(h.logs.some((l) => l.includes('bad extent') && l.includes('EUCLEAN')));
  mode = 'forget';
  const f = Buffer.alloc(8); f.writeBigUInt64LE(1n);
  assert.deepEqual(h.feed(request(Opcode.FORGET, f)), [], 'a throwing FORGET still gets no reply');
});

test('methods returning junk or huge values answer EIO; negative errno is accepted', () => {
  let rc: unknown = 'nope';
  const ops: FuseOps = { access: () => rc as number };
  const h = ready(ops);
  const access = () => h.one(request(Opcode.ACCESS, Buffer.alloc(8))).error;
  assert.equal(access(), EIO);
  rc = 600;
  assert.equal(access(), EIO);
  rc = -13;
  assert.equal(access(), -13);
  rc = 13;
  assert.equal(access(), -13);
});

test('a 64-bit field above 2^53 is answered, not thrown (read past any file = EOF)', () => {
  const fs = new MemFs();
  const h = ready(fs);
  const rd = Buffer.alloc(40);
  rd.writeBigUInt64LE(1n << 60n, 8);
  rd.writeUInt32LE(4096, 16);
  const r = h.one(request(Opcode.READ, rd));
  assert.deepEqual([r.error, r.len], [0, 16]);
  const fa = Buffer.alloc(32);
  fa.writeBigUInt64LE(1n << 60n, 16); // length
  const r2 = h.one(request(Opcode.FALLOCATE, fa, { nodeid: 1 }));
  assert.equal(r2.error, -75, 'EOVERFLOW');
});

test('xattrs: size probe, value, ERANGE, ENODATA, list; never ENOSYS', () => {
  const fs = new MemFs();
  const h = ready(fs);
  const set = Buffer.alloc(8);
  set.writeUInt32LE(5, 0);
  assert.equal(h.one(request(Opcode.SETXATTR, Buffer.concat([set, cstr('user.k'), Buffer.from('hello')]))).error, 0);
  const get = (size: number, name = 'user.k') => {
    const g = Buffer.alloc(8);
    g.writeUInt32LE(size, 0);
    return h.one(request(Opcode.GETXATTR, Buffer.concat([g, cstr(name)])));
  };
  const probe = get(0);
  assert.deepEqual([probe.error, probe.len, probe.payload.readUInt32LE(0)], [0, 24, 5]);
  const val = get(100);
  assert.equal(val.payload.toString(), 'hello');
  assert.equal(get(3).error, ERANGE);
  assert.equal(get(0, 'user.none').error, ENODATA);
  const l = Buffer.alloc(8);
  const list = h.one(request(Opcode.LISTXATTR, l));
  assert.equal(list.payload.readUInt32LE(0), 'user.k\0'.length);
  // A filesystem without xattr methods: ENODATA / empty list / EOPNOTSUPP.
  const bare = ready({});
  const g = Buffer.alloc(8);
  assert.equal(bare.one(request(Opcode.GETXATTR, Buffer.concat([g, cstr('security.capability')]))).error, ENODATA);
  const bl = bare.one(request(Opcode.LISTXATTR, Buffer.alloc(8)));
  assert.deepEqual([bl.error, bl.payload.readUInt32LE(0)], [0, 0]);
  assert.equal(bare.one(request(Opcode.SETXATTR, Buffer.concat([Buffer.alloc(8), cstr('user.a')]))).error, -95);
  assert.equal(bare.one(request(Opcode.REMOVEXATTR, cstr('user.a'))).error, ENODATA);
  // ENOSYS from a method is turned into EOPNOTSUPP.
  const nosys = ready({ getxattr: () => 38 });
  assert.equal(nosys.one(request(Opcode.GETXATTR, Buffer.concat([g, cstr('user.a')]))).error, -95);
});

test('SETXATTR_EXT: the 16-byte fuse_setxattr_in is parsed when negotiated', () => {
  let seen: [string, string, number] | null = null;
  const ops: FuseOps = {
    setxattr: (_c, name, value, _flags, extFlags) => {
      seen = [Buffer.from(name).toString(), Buffer.from(value).toString(), extFlags];
      return 0;
    },
  };
  const h = ready(ops, { setxattrExt: true });
  const s = Buffer.alloc(16);
  s.writeUInt32LE(2, 0);
  s.writeUInt32LE(1, 8);
  assert.equal(h.one(request(Opcode.SETXATTR, Buffer.concat([s, cstr('user.z'), Buffer.from('hi')]))).error, 0);
  assert.deepEqual(seen, ['user.z', 'hi', 1]);
});

test('unimplemented methods: ENOSYS, except open/opendir/release/statfs defaults and RENAME2 EINVAL', () => {
  const h = ready({});
  assert.equal(h.one(request(Opcode.GETATTR, Buffer.alloc(16))).error, ENOSYS);
  assert.equal(h.one(request(Opcode.FLUSH, Buffer.alloc(24))).error, ENOSYS);
  const o = h.one(request(Opcode.OPEN, Buffer.alloc(8)));
  assert.deepEqual([o.error, o.len], [0, 32]);
  assert.equal(h.one(request(Opcode.RELEASE, Buffer.alloc(24))).error, 0);
  const st = h.one(request(Opcode.STATFS));
  assert.deepEqual([st.error, st.len, st.payload.readUInt32LE(44)], [0, 96, 255]);
  assert.equal(h.one(request(Opcode.RENAME2, Buffer.concat([Buffer.alloc(16), cstr('a'), cstr('b')]))).error, EINVAL);
  assert.equal(h.one(request(Opcode.IOCTL, Buffer.alloc(32))).error, -25, 'ENOTTY');
});

test('INTERRUPT is answered ENOSYS under its own unique', () => {
  const h = ready();
  const i = Buffer.alloc(8);
  i.writeBigUInt64LE(40n);
  const r = h.one(request(Opcode.INTERRUPT, i, { unique: 41 }));
  assert.deepEqual([r.error, r.unique], [ENOSYS, 41n]);
});

test('WRITE then READ through memfs; CREATE reply = entry_out + open_out', () => {
  const h = ready();
  const c = Buffer.alloc(16);
  c.writeUInt32LE(0o2 /* O_RDWR */, 0);
  c.writeUInt32LE(0o100644, 4);
  const cr = h.one(request(Opcode.CREATE, Buffer.concat([c, cstr('f')])));
  assert.deepEqual([cr.error, cr.len], [0, 16 + 128 + 16]);
  const nodeid = Number(cr.payload.readBigUInt64LE(0));
  const fh = cr.payload.readBigUInt64LE(128);
  const w = Buffer.alloc(40);
  w.writeBigUInt64LE(fh, 0);
  w.writeBigUInt64LE(3n, 8);
  w.writeUInt32LE(5, 16);
  const wr = h.one(request(Opcode.WRITE, Buffer.concat([w, Buffer.from('world')]), { nodeid }));
  assert.deepEqual([wr.error, wr.len, wr.payload.readUInt32LE(0)], [0, 24, 5]);
  const rd = Buffer.alloc(40);
  rd.writeBigUInt64LE(fh, 0);
  rd.writeUInt32LE(100, 16);
  const rr = h.one(request(Opcode.READ, rd, { nodeid }));
  assert.deepEqual(rr.payload, Buffer.from('\0\0\0world'));
});

test('notifications queued during a request are written after its reply', () => {
  let notifier: import('../../src/fuse/ops.js').Notifier | null = null;
  const h2 = ready({
    init: (_c, n) => { notifier = n; },
    unlink: (ctx, name) => { notifier!.invalEntry(ctx.nodeid, name); notifier!.invalInode(5, -1, 0); return 0; },
  });
  const req = request(Opcode.UNLINK, cstr('gone'), { nodeid: 1, unique: 90 });
  req.copy(h2.d.buffer);
  h2.d.handle(req.length);
  const writes = h2.w.take();
  assert.equal(writes.length, 3);
  assert.equal(writes[0]!.readBigUInt64LE(8), 90n, 'the reply comes first');
  assert.equal(writes[1]!.readBigUInt64LE(8), 0n);
  assert.equal(writes[1]!.readInt32LE(4), 3, 'INVAL_ENTRY');
  assert.equal(writes[1]!.readUInt32LE(16 + 8), 4, 'namelen');
  assert.equal(writes[1]!.subarray(16 + 16).toString('latin1'), 'gone\0');
  assert.equal(writes[2]!.readInt32LE(4), 2, 'INVAL_INODE');
  assert.equal(writes[2]!.readBigInt64LE(16 + 8), -1n);
  // Outside a request: sent at once.
  notifier!.delete(1, 7, 'x');
  const w = h2.w.take();
  assert.equal(w.length, 1);
  assert.equal(w[0]!.readInt32LE(4), 6);
  assert.equal(w[0]!.length, 16 + 24 + 2);
});
