// INIT negotiation, from raw fuse_init_in bytes to fuse_init_out bytes
// (protocol note §1.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FuseInitOut } from '../../src/fuse/abi-structs.js';
import { InitFlags, InitFlags2 } from '../../src/fuse/abi-consts.js';
import type { FuseOps } from '../../src/fuse/ops.js';
import { MemFs } from '../helpers/memfs.js';
import { Harness, Opcode, initIn, request } from './raw.js';

function initOut(payload: Buffer) {
  return new FuseInitOut(Buffer.concat([payload, Buffer.alloc(64)]));
}

test('INIT from a 7.45 kernel: 64-byte reply, our version, granted flags a subset of the offer', () => {
  const h = new Harness(new MemFs());
  const r = h.init();
  assert.equal(r.error, 0);
  assert.equal(r.len, 16 + 64);
  const o = initOut(r.payload);
  assert.equal(o.major, 7);
  assert.equal(o.minor, 45);
  const offered = 0x73fffffb;
  assert.equal((o.flags & ~offered) >>> 0, 0, 'only offered flags');
  for (const f of ['BIG_WRITES', 'MAX_PAGES', 'ASYNC_READ', 'ATOMIC_O_TRUNC', 'EXPORT_SUPPORT', 'PARALLEL_DIROPS',
    'DO_READDIRPLUS', 'CACHE_SYMLINKS', 'HANDLE_KILLPRIV_V2', 'INIT_EXT'] as const) {
    assert.ok(o.flags & InitFlags[f], `${f} granted`);
  }
  for (const f of ['WRITEBACK_CACHE', 'POSIX_ACL', 'SETXATTR_EXT', 'POSIX_LOCKS', 'FLOCK_LOCKS', 'READDIRPLUS_AUTO',
    'HAS_IOCTL_DIR'] as const) {
    assert.equal(o.flags & InitFlags[f], 0, `${f} not granted`);
  }
  assert.equal(o.max_write, 1024 * 1024);
  assert.equal(o.max_pages, 256);
  assert.equal(o.time_gran, 1);
  assert.equal(o.max_readahead, 131072);
  assert.equal(o.flags2, 0);
  assert.equal(h.d.conn?.maxWrite, 1024 * 1024);
});

test('INIT: max_write follows the option and the max_pages limit', () => {
  const h = new Harness(new MemFs(), { maxWrite: 200 * 1024, maxPagesLimit: 32 });
  const o = initOut(h.init().payload);
  assert.equal(o.max_pages, 32);
  assert.equal(o.max_write, 128 * 1024);
  const h2 = new Harness(new MemFs(), { maxWrite: 100, timeGran: 1_000_000_000 });
  const o2 = initOut(h2.init().payload);
  assert.equal(o2.max_write, 4096, 'never below one page');
  assert.equal(o2.max_pages, 1);
  assert.equal(o2.time_gran, 1_000_000_000);
});

test('INIT: no MAX_PAGES offered -> max_pages 0 and max_write capped at 32 pages', () => {
  const h = new Harness(new MemFs());
  const o = initOut(h.init(45, 0x73fffffb & ~InitFlags.MAX_PAGES).payload);
  assert.equal(o.flags & InitFlags.MAX_PAGES, 0);
  assert.equal(o.max_pages, 0);
  assert.equal(o.max_write, 128 * 1024);
});

test('INIT: flags2 only with INIT_EXT', () => {
  const opts = { exportSupport: false };
  const h = new Harness(new MemFs(), opts);
  const o = initOut(h.init().payload);
  assert.ok(o.flags & InitFlags.INIT_EXT);
  assert.equal(o.flags & InitFlags.EXPORT_SUPPORT, 0);
  assert.equal(o.flags2, InitFlags2.NO_EXPORT_SUPPORT);
  const h2 = new Harness(new MemFs(), opts);
  const o2 = initOut(h2.init(45, 0x73fffffb & ~InitFlags.INIT_EXT, 0x5fd).payload);
  assert.equal(o2.flags & InitFlags.INIT_EXT, 0);
  assert.equal(o2.flags2, 0, 'no flags2 without INIT_EXT');
});

test('INIT: options turn on writeback cache, POSIX ACLs, setxattr_ext, readdirplus auto', () => {
  const h = new Harness(new MemFs(), { writebackCache: true, posixAcl: true, setxattrExt: true, readdirplus: 'auto' });
  const o = initOut(h.init().payload);
  for (const f of ['WRITEBACK_CACHE', 'POSIX_ACL', 'SETXATTR_EXT', 'DO_READDIRPLUS', 'READDIRPLUS_AUTO'] as const) {
    assert.ok(o.flags & InitFlags[f], f);
  }
  assert.equal(h.d.conn?.writebackCache, true);
  assert.equal(h.d.setxattrExt, true);
});

test('INIT: capabilities follow the methods present (readdirplus, ioctl, locks)', () => {
  const bare: FuseOps = { getattr: () => 0 };
  const o = initOut(new Harness(bare).init().payload);
  assert.equal(o.flags & InitFlags.DO_READDIRPLUS, 0);
  assert.equal(o.flags & InitFlags.HAS_IOCTL_DIR, 0);
  const locks: FuseOps = { getlk: () => 0, setlk: () => 0, ioctl: () => 0 };
  const o2 = initOut(new Harness(locks).init().payload);
  assert.ok(o2.flags & InitFlags.POSIX_LOCKS);
  assert.ok(o2.flags & InitFlags.FLOCK_LOCKS);
  assert.ok(o2.flags & InitFlags.HAS_IOCTL_DIR);
});

test('INIT from an old kernel (7.22, 16-byte fuse_init_in): 24-byte reply', () => {
  const h = new Harness(new MemFs());
  const r = h.one(request(Opcode.INIT, initIn(22, 0x0000ffff, 0, 16), { nodeid: 0 }));
  assert.equal(r.error, 0);
  assert.equal(r.len, 16 + 24);
  assert.equal(r.payload.readUInt32LE(0), 7);
  assert.equal(h.d.conn?.minor, 22);
  // A 7.23+ opcode is refused on this session.
  const rn = h.one(request(Opcode.RENAME2, Buffer.concat([Buffer.alloc(16), Buffer.from('a\0b\0')])));
  assert.equal(rn.error, -38);
});

test('INIT: major 8 gets our version and no session; major 6 and minor < 12 get EPROTO', () => {
  const h = new Harness(new MemFs());
  const b = initIn();
  b.writeUInt32LE(8, 0);
  const r = h.one(request(Opcode.INIT, b, { nodeid: 0 }));
  assert.equal(r.error, 0);
  assert.equal(r.len, 16 + 8);
  assert.equal(r.payload.readUInt32LE(0), 7);
  assert.equal(h.d.conn, null);
  b.writeUInt32LE(6, 0);
  assert.equal(h.one(request(Opcode.INIT, b, { nodeid: 0 })).error, -71);
  assert.equal(h.one(request(Opcode.INIT, initIn(11), { nodeid: 0 })).error, -71);
});

test('requests before INIT get EIO; INIT shorter than 16 bytes gets EINVAL', () => {
  const h = new Harness(new MemFs());
  assert.equal(h.one(request(Opcode.GETATTR, Buffer.alloc(16))).error, -5);
  assert.equal(h.one(request(Opcode.INIT, Buffer.alloc(8), { nodeid: 0 })).error, -22);
});

test('init() of the filesystem receives the connection info', () => {
  let seen: number | undefined;
  const ops: FuseOps = { init: (c) => { seen = c.maxWrite; } };
  new Harness(ops, { maxWrite: 65536 }).init();
  assert.equal(seen, 65536);
});
