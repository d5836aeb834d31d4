// Packing of the attribute-carrying reply structs (fuse_attr, fuse_entry_out,
// fuse_attr_out, fuse_statx) from the plain objects of ops.ts into a DataView,
// with offsets taken from the struct tables. Signed 64-bit times are written
// as two's complement. include/uapi/linux/fuse.h; protocol note §1.3.
import { FuseAttr, FuseEntryOut, FuseStatx, STATX_TIME_OFFSET } from './abi-structs.js';
import type { Attr, EntryOut, StatxOut } from './ops.js';

const TWO32 = 0x1_0000_0000;

function off(cls: { field(n: string): { offset: number } | undefined }, name: string): number {
  const f = cls.field(name);
  if (!f) throw new Error(`pack: no field ${name}`);
  return f.offset;
}

const A = {
  ino: off(FuseAttr, 'ino'), size: off(FuseAttr, 'size'), blocks: off(FuseAttr, 'blocks'),
  atime: off(FuseAttr, 'atime'), mtime: off(FuseAttr, 'mtime'), ctime: off(FuseAttr, 'ctime'),
  atimensec: off(FuseAttr, 'atimensec'), mtimensec: off(FuseAttr, 'mtimensec'), ctimensec: off(FuseAttr, 'ctimensec'),
  mode: off(FuseAttr, 'mode'), nlink: off(FuseAttr, 'nlink'), uid: off(FuseAttr, 'uid'), gid: off(FuseAttr, 'gid'),
  rdev: off(FuseAttr, 'rdev'), blksize: off(FuseAttr, 'blksize'), flags: off(FuseAttr, 'flags'),
};
const E = {
  nodeid: off(FuseEntryOut, 'nodeid'), generation: off(FuseEntryOut, 'generation'),
  entry_valid: off(FuseEntryOut, 'entry_valid'), attr_valid: off(FuseEntryOut, 'attr_valid'),
  entry_valid_nsec: off(FuseEntryOut, 'entry_valid_nsec'), attr_valid_nsec: off(FuseEntryOut, 'attr_valid_nsec'),
  attr: off(FuseEntryOut, 'attr'),
};

/** Unsigned 64-bit from a non-negative safe integer (negative/NaN written as 0). */
export function writeU64(dv: DataView, o: number, v: number): void {
  if (!(v > 0)) v = 0;
  dv.setUint32(o, v % TWO32, true);
  dv.setUint32(o + 4, Math.floor(v / TWO32), true);
}

/** Signed 64-bit (two's complement) from a safe integer. */
export function writeS64(dv: DataView, o: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  dv.setUint32(o, v - hi * TWO32, true);
  dv.setInt32(o + 4, hi, true);
}

/** Writes a timeout in seconds as (u64 seconds at o, u32 nanoseconds at nsecOff). */
export function writeTimeout(dv: DataView, o: number, nsecOff: number, t: number): void {
  if (!(t > 0)) {
    writeU64(dv, o, 0);
    dv.setUint32(nsecOff, 0, true);
    return;
  }
  if (t > 0x1f_ffff_ffff_ffff) t = 0x1f_ffff_ffff_ffff;
  const sec = Math.floor(t);
  let nsec = Math.round((t - sec) * 1e9);
  if (nsec > 999_999_999) nsec = 999_999_999;
  writeU64(dv, o, sec);
  dv.setUint32(nsecOff, nsec, true);
}

export function packAttr(dv: DataView, o: number, a: Attr): void {
  writeU64(dv, o + A.ino, a.ino);
  writeU64(dv, o + A.size, a.size);
  writeU64(dv, o + A.blocks, a.blocks);
  writeS64(dv, o + A.atime, a.atime);
  writeS64(dv, o + A.mtime, a.mtime);
  writeS64(dv, o + A.ctime, a.ctime);
  dv.setUint32(o + A.atimensec, a.atimeNsec, true);
  dv.setUint32(o + A.mtimensec, a.mtimeNsec, true);
  dv.setUint32(o + A.ctimensec, a.ctimeNsec, true);
  dv.setUint32(o + A.mode, a.mode, true);
  dv.setUint32(o + A.nlink, a.nlink, true);
  dv.setUint32(o + A.uid, a.uid, true);
  dv.setUint32(o + A.gid, a.gid, true);
  dv.setUint32(o + A.rdev, a.rdev, true);
  dv.setUint32(o + A.blksize, a.blksize, true);
  dv.setUint32(o + A.flags, a.flags, true);
}

/** fuse_entry_out at o. A negative entry (nodeid 0) zeroes the attributes. */
export function packEntry(dv: DataView, o: number, e: EntryOut): void {
  writeU64(dv, o + E.nodeid, e.nodeid);
  writeU64(dv, o + E.generation, e.generation);
  writeTimeout(dv, o + E.entry_valid, o + E.entry_valid_nsec, e.entryTimeout);
  writeTimeout(dv, o + E.attr_valid, o + E.attr_valid_nsec, e.attrTimeout);
  packAttr(dv, o + E.attr, e.attr);
}

/** Zeroed fuse_entry_out (a "." / ".." entry in READDIRPLUS). */
export function packZeroEntry(bytes: Uint8Array, o: number): void {
  bytes.fill(0, o, o + FuseEntryOut.size);
}

const S = {
  mask: off(FuseStatx, 'mask'), blksize: off(FuseStatx, 'blksize'), attributes: off(FuseStatx, 'attributes'),
  nlink: off(FuseStatx, 'nlink'), uid: off(FuseStatx, 'uid'), gid: off(FuseStatx, 'gid'),
  mode: off(FuseStatx, 'mode'), ino: off(FuseStatx, 'ino'), size: off(FuseStatx, 'size'),
  blocks: off(FuseStatx, 'blocks'), attributes_mask: off(FuseStatx, 'attributes_mask'),
  rdev_major: off(FuseStatx, 'rdev_major'), rdev_minor: off(FuseStatx, 'rdev_minor'),
  dev_major: off(FuseStatx, 'dev_major'), dev_minor: off(FuseStatx, 'dev_minor'),
};

function packSxTime(dv: DataView, o: number, sec: number, nsec: number): void {
  writeS64(dv, o, sec);
  dv.setUint32(o + 8, nsec, true);
  dv.setInt32(o + 12, 0, true);
}

/** struct fuse_statx at o (the caller zeroes the spare fields once). */
export function packStatx(dv: DataView, o: number, s: StatxOut): void {
  dv.setUint32(o + S.mask, s.mask, true);
  dv.setUint32(o + S.blksize, s.blksize, true);
  writeU64(dv, o + S.attributes, s.attributes);
  dv.setUint32(o + S.nlink, s.nlink, true);
  dv.setUint32(o + S.uid, s.uid, true);
  dv.setUint32(o + S.gid, s.gid, true);
  dv.setUint16(o + S.mode, s.mode & 0xffff, true);
  writeU64(dv, o + S.ino, s.ino);
  writeU64(dv, o + S.size, s.size);
  writeU64(dv, o + S.blocks, s.blocks);
  writeU64(dv, o + S.attributes_mask, s.attributesMask);
  packSxTime(dv, o + STATX_TIME_OFFSET.atime, s.atime, s.atimeNsec);
  packSxTime(dv, o + STATX_TIME_OFFSET.btime, s.btime, s.btimeNsec);
  packSxTime(dv, o + STATX_TIME_OFFSET.ctime, s.ctime, s.ctimeNsec);
  packSxTime(dv, o + STATX_TIME_OFFSET.mtime, s.mtime, s.mtimeNsec);
  dv.setUint32(o + S.rdev_major, s.rdevMajor, true);
  dv.setUint32(o + S.rdev_minor, s.rdevMinor, true);
  dv.setUint32(o + S.dev_major, s.devMajor, true);
  dv.setUint32(o + S.dev_minor, s.devMinor, true);
}
