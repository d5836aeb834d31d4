// Extended attributes, write side, and the userspace view (names, ACL format via
// acl.ts): Documentation/filesystems/ext4/attributes.rst, eainode.rst.
//
// Placement follows the kernel's ext4_xattr_set_handle() (fs/ext4/xattr.c):
// - A value goes into the inode body first (large inodes, after i_extra_isize;
//   new entries appended, a replaced entry keeps its place); when it does not
//   fit there it goes into the external block (entries sorted by index, name
//   length, name). Whichever place takes it, a copy in the other place is
//   removed. Existing entries never move to make room.
// - With ea_inode (and extents), a value whose padded size exceeds
//   EXT4_XATTR_MIN_LARGE_EA_SIZE(blocksize) goes straight into an EA inode, and
//   a value that fits neither the inode nor the block goes there as a retry.
//   EA inodes we create are never shared (the kernel's mbcache dedup is
//   optional); references are counted (i_ctime:l_i_version) per holder: the
//   inode body counts once, a block once however many inodes share it.
//   The owner is charged the value's blocks in i_blocks, as the kernel's quota
//   call does and e2fsck expects.
// - A block with h_refcount > 1 is never changed in place: this inode gets a new
//   copy (refcount 1) and the old block's refcount drops. A block left with no
//   entries is freed (or just released when shared) and i_file_acl cleared.
// - system.data (inline data) stays in the inode: it is never moved to the block.
// - Too large: -E2BIG when the entry could not fit even an empty inode body or
//   block (and no EA inode can take it), -ENOSPC when other entries fill the
//   space. (The kernel answers -ENOSPC in both cases.)
// Times are the caller's business; the inode is written (vol.writeInode) after
// each change.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { I_BLOCK_OFFSET } from './inode.js';
import { COMPAT, INCOMPAT } from './layout/features.js';
import { GOOD_OLD_INODE_SIZE, InodeFlags, S_IFREG } from './layout/inode.js';
import { EXT4_EXT_MAGIC } from './layout/extent.js';
import { XATTR_H_CHECKSUM_OFFSET, XATTR_NAME_MAX, XATTR_SIZE_MAX, XattrIndex, xattrEntryLen, xattrValueLen } from './layout/xattr.js';
import { groupFirstBlock } from './geometry.js';
import { walkRuns } from './file.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';
import {
  eaInodeHash, encodeInodeXattrs, encodeXattrBlock, splitXattrName, xattrBlockChecksum, xattrEntryHashEaInode,
  xattrFullName, XATTR_PREFIXES, type XattrEntry,
} from './xattr-codec.js';
import { blockXattrs, inodeXattrs, listXattrs, xattrValue } from './xattr.js';
import { aclDiskToXattr, aclXattrToDisk } from './acl.js';

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** Indexes userspace sees (the kernel's ext4 handlers: user, ACLs, trusted, security). */
const USER_VISIBLE = new Set<number>([XattrIndex.USER, XattrIndex.POSIX_ACL_ACCESS, XattrIndex.POSIX_ACL_DEFAULT, XattrIndex.TRUSTED, XattrIndex.SECURITY]);
/** EXT4_XATTR_MIN_LARGE_EA_SIZE: block size - EXT4_XATTR_LEN(3) - header - end marker. */
const minLargeEaSize = (bs: number) => bs - xattrEntryLen(3) - 32 - 4;
/** Stand-in e_value_inum while trying placements (layout does not depend on it). */
const PENDING_INUM = 0xffffffff;
const EXT4_EXT_ROOT_MAX = 4;
const EXT_MAX_LEN = 32768;

const enc = new TextEncoder();

/** An entry as kept here: a parsed XattrEntry or a new one (both encode as XattrInput). */
interface Item {
  index: number;
  nameBytes: Uint8Array;
  value?: Uint8Array;
  valueInum?: number;
  valueSize: number;
  hash: number;
}

interface BlockState {
  nr: number;
  refcount: number;
  entries: XattrEntry[];
}

// --- names -------------------------------------------------------------------

/** A userspace name → (index, suffix), or the errno the kernel gives for it. */
function resolveName(fullName: string | Uint8Array): { index: number; nameBytes: Uint8Array } | number {
  const b = typeof fullName === 'string' ? enc.encode(fullName) : fullName;
  if (b.length === 0 || b.length > XATTR_NAME_MAX) return -Errno.ERANGE; // VFS: XATTR_NAME_MAX on the whole name
  if (b.includes(0)) return -Errno.EINVAL;
  const s = splitXattrName(b);
  if (s === null) {
    // "user." alone: the kernel's xattr_resolve_name says EINVAL; unknown prefixes EOPNOTSUPP.
    const text = new TextDecoder().decode(b);
    return XATTR_PREFIXES.some(([, p, exact]) => !exact && text === p) ? -Errno.EINVAL : -Errno.EOPNOTSUPP;
  }
  if (!USER_VISIBLE.has(s.index)) return -Errno.EOPNOTSUPP;
  return s;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function findItem(list: readonly Item[], index: number, name: Uint8Array): number {
  return list.findIndex((e) => e.index === index && sameBytes(e.nameBytes, name));
}

function isSystemData(index: number, name: Uint8Array): boolean {
  return index === XattrIndex.SYSTEM && name.length === 4 && name[0] === 0x64 && name[1] === 0x61 && name[2] === 0x74 && name[3] === 0x61;
}

const isAcl = (index: number) => index === XattrIndex.POSIX_ACL_ACCESS || index === XattrIndex.POSIX_ACL_DEFAULT;

// --- the userspace view --------------------------------------------------------

/** Names userspace sees (in-inode first, then the block, as the kernel lists them). */
export function listXattrNames(vol: Volume, inode: Inode): string[] {
  const out: string[] = [];
  for (const e of listXattrs(vol, inode)) if (USER_VISIBLE.has(e.index)) out.push(xattrFullName(e.index, e.name));
  return out;
}

/** The value as getxattr(2) returns it (ACLs in the POSIX xattr form), or -ENODATA / -ERANGE / -EOPNOTSUPP. */
export function getXattrValue(vol: Volume, inode: Inode, fullName: string | Uint8Array): Uint8Array | number {
  const n = resolveName(fullName);
  if (typeof n === 'number') return n;
  for (const e of listXattrs(vol, inode)) {
    if (e.index !== n.index || !sameBytes(e.nameBytes, n.nameBytes)) continue;
    const v = xattrValue(vol, inode, e);
    if (!isAcl(n.index)) return v;
    return aclDiskToXattr(v, { ino: inode.ino }) ?? -Errno.ENODATA; // an empty ACL is no ACL (ext4_get_acl)
  }
  return -Errno.ENODATA;
}

/** setxattr(2) on a userspace name. The caller handles permissions and ctime. */
export function setXattr(vol: Volume, h: Handle, inode: Inode, fullName: string | Uint8Array, value: Uint8Array, flags: number): number {
  if (!vol.has('compat', COMPAT.ext_attr)) return -Errno.EOPNOTSUPP;
  const n = resolveName(fullName);
  if (typeof n === 'number') return n;
  let v: Uint8Array | null = value;
  if (isAcl(n.index)) {
    const d = aclXattrToDisk(value); // acl.ts: posix_acl_from_xattr + posix_acl_valid
    if (d === null) return -Errno.EINVAL;
    v = d.length ? d : null; // an empty ACL removes it (absent and no XATTR_REPLACE: 0, like ext4_xattr_set_handle)
  }
  return setXattrEntry(vol, h, inode, n.index, n.nameBytes, v, flags);
}

/** removexattr(2) on a userspace name: 0 or -ENODATA. */
export function removeXattr(vol: Volume, h: Handle, inode: Inode, fullName: string | Uint8Array): number {
  if (!vol.has('compat', COMPAT.ext_attr)) return -Errno.EOPNOTSUPP;
  const n = resolveName(fullName);
  if (typeof n === 'number') return n;
  return setXattrEntry(vol, h, inode, n.index, n.nameBytes, null, XATTR_REPLACE);
}

// --- the raw entry level ---------------------------------------------------------

/** The in-inode area we may write: large inodes with i_extra_isize set and room for header + end marker. */
function writableRegion(vol: Volume, inode: Inode): Uint8Array | null {
  const size = vol.geo.inodeSize;
  if (size <= GOOD_OLD_INODE_SIZE || inode.extraIsize === 0) return null;
  const start = GOOD_OLD_INODE_SIZE + inode.extraIsize;
  if (start + 8 > size) return null;
  return inode.bytes.subarray(start, size);
}

function blockState(vol: Volume, inode: Inode): BlockState | null {
  const nr = inode.fileAcl;
  if (nr === 0) return null;
  const entries = blockXattrs(vol, inode); // validates the block and its checksum
  return { nr, refcount: viewOf(vol.readMetaBlock(nr, 'xattr', { ino: inode.ino })).getUint32(4, true), entries };
}

/**
 * Set (value) or remove (null) the entry (index, suffix) on disk form, no name
 * or ACL translation: the level inline data uses for system.data. Flags as
 * setxattr(2); removing an absent entry is -ENODATA with XATTR_REPLACE, else 0.
 */
export function setXattrEntry(vol: Volume, h: Handle, inode: Inode, index: number, nameBytes: Uint8Array, value: Uint8Array | null, flags: number): number {
  if (vol.readOnly) return -Errno.EROFS;
  if (nameBytes.length > XATTR_NAME_MAX) return -Errno.ERANGE;
  if (value && value.length > XATTR_SIZE_MAX) return -Errno.E2BIG;
  const region = writableRegion(vol, inode);
  const ib: Item[] = region ? inodeXattrs(vol, inode) : [];
  const old = blockState(vol, inode);
  const bl: Item[] = old ? old.entries : [];
  const iPos = findItem(ib, index, nameBytes);
  const bPos = findItem(bl, index, nameBytes);
  if (iPos < 0 && bPos < 0) {
    if (flags & XATTR_REPLACE) return -Errno.ENODATA;
    if (!value) return 0;
  } else if (flags & XATTR_CREATE) {
    return -Errno.EEXIST;
  }
  const without = (list: Item[], i: number) => (i < 0 ? null : list.filter((_, k) => k !== i));
  if (!value) return apply(vol, h, inode, region, ib, old, { ib: without(ib, iPos), bl: without(bl, bPos) }, null);

  const cur = iPos >= 0 ? ib[iPos] : bPos >= 0 ? bl[bPos] : undefined;
  if (cur && cur.valueInum === undefined && cur.value && sameBytes(cur.value, value)) return 0;

  const bs = vol.blockSize;
  const pinned = isSystemData(index, nameBytes);
  const eaOk = !pinned && vol.has('incompat', INCOMPAT.ea_inode) && vol.has('incompat', INCOMPAT.extent);
  let useEa = eaOk && xattrValueLen(value.length) > minLargeEaSize(bs);
  const put = (list: Item[], i: number, item: Item) => (i < 0 ? [...list, item] : list.map((e, k) => (k === i ? item : e)));
  for (;;) {
    const item: Item = useEa
      ? { index, nameBytes, valueInum: PENDING_INUM, valueSize: value.length, hash: xattrEntryHashEaInode(nameBytes, eaInodeHash(vol.csumSeed, value)) }
      : { index, nameBytes, value, valueSize: value.length, hash: 0 };
    if (region) {
      const nib = put(ib, iPos, item);
      if (encodeInodeXattrs(nib, region.length)) return apply(vol, h, inode, region, ib, old, { ib: nib, bl: without(bl, bPos) }, useEa ? value : null);
    }
    if (!pinned) {
      const nbl = put(bl, bPos, item);
      if (encodeXattrBlock(nbl, bs)) return apply(vol, h, inode, region, ib, old, { ib: without(ib, iPos), bl: nbl }, useEa ? value : null);
      if (eaOk && !useEa && value.length > 0) { useEa = true; continue; }
    }
    const fitsAlone = (region !== null && encodeInodeXattrs([item], region.length) !== null) || (!pinned && encodeXattrBlock([item], bs) !== null);
    return fitsAlone ? -Errno.ENOSPC : -Errno.E2BIG;
  }
}

interface Plan {
  /** New in-inode list, or null when unchanged. */
  ib: Item[] | null;
  /** New block list, or null when unchanged. */
  bl: Item[] | null;
}

/** Blocks (in 512-byte units) the kernel charges an owner for its EA-inode values. */
function eaCharge(vol: Volume, lists: readonly (readonly Item[])[]): number {
  const bs = vol.blockSize;
  let n = 0;
  for (const l of lists) for (const e of l) if (e.valueInum !== undefined) n += Math.ceil(e.valueSize / bs) * (bs / 512);
  return n;
}

function countRefs(delta: Map<number, number>, list: readonly Item[], by: number): void {
  for (const e of list) if (e.valueInum !== undefined) delta.set(e.valueInum, (delta.get(e.valueInum) ?? 0) + by);
}

/** Carry out a placement: allocations first (undone on failure), then the writes. */
function apply(vol: Volume, h: Handle, inode: Inode, region: Uint8Array | null, ib: Item[], old: BlockState | null, plan: Plan, eaValue: Uint8Array | null): number {
  const bs = vol.blockSize;
  let eaIno = 0;
  if (eaValue) {
    eaIno = createEaInode(vol, h, inode, eaValue);
    if (eaIno < 0) return eaIno;
    for (const l of [plan.ib, plan.bl]) for (const e of l ?? []) if (e.valueInum === PENDING_INUM) e.valueInum = eaIno;
  }
  const newBlock = plan.bl !== null && plan.bl.length > 0 && (old === null || old.refcount > 1);
  let newNr = 0;
  if (newBlock) {
    const goal = groupFirstBlock(vol.geo, Math.floor((inode.ino - 1) / vol.geo.inodesPerGroup));
    const r = vol.alloc.allocBlocks(h, goal, 1);
    if (typeof r === 'number') {
      if (eaIno) freeEaInode(vol, h, vol.inodes.get(eaIno));
      return r;
    }
    newNr = r.start;
  }
  const chargeBefore = eaCharge(vol, [ib, old?.entries ?? []]);
  const delta = new Map<number, number>();
  if (plan.ib) {
    region!.set(encodeInodeXattrs(plan.ib, region!.length)!);
    countRefs(delta, ib, -1);
    countRefs(delta, plan.ib, +1);
  }
  if (plan.bl) {
    if (plan.bl.length === 0) {
      releaseBlock(vol, h, old!, delta);
      inode.fileAcl = 0;
      inode.blocks512 -= bs / 512;
    } else if (newBlock) {
      writeBlock(vol, h, newNr, plan.bl, true);
      countRefs(delta, plan.bl, +1);
      if (old) releaseBlock(vol, h, old, delta);
      else inode.blocks512 += bs / 512;
      inode.fileAcl = newNr;
    } else {
      writeBlock(vol, h, old!.nr, plan.bl, false);
      countRefs(delta, old!.entries, -1);
      countRefs(delta, plan.bl, +1);
    }
  }
  inode.blocks512 += eaCharge(vol, [plan.ib ?? ib, plan.bl ?? old?.entries ?? []]) - chargeBefore;
  vol.writeInode(h, inode);
  for (const [ino, d] of delta) if (d !== 0) adjustEaRef(vol, h, inode, ino, d);
  return 0;
}

function writeBlock(vol: Volume, h: Handle, nr: number, entries: Item[], fresh: boolean): void {
  const bytes = encodeXattrBlock(entries, vol.blockSize)!;
  if (vol.hasMetadataCsum) viewOf(bytes).setUint32(XATTR_H_CHECKSUM_OFFSET, xattrBlockChecksum(vol.csumSeed, nr, bytes), true);
  const buf = fresh ? h.getNew(nr) : h.getWrite(nr);
  buf.set(bytes);
  h.dirty(nr, buf);
}

/** This inode lets go of its block: drop a shared block's refcount, or free an unshared one. */
function releaseBlock(vol: Volume, h: Handle, old: BlockState, delta: Map<number, number>): void {
  if (old.refcount > 1) {
    const buf = h.getWrite(old.nr);
    const dv = viewOf(buf);
    dv.setUint32(4, old.refcount - 1, true);
    if (vol.hasMetadataCsum) dv.setUint32(XATTR_H_CHECKSUM_OFFSET, xattrBlockChecksum(vol.csumSeed, old.nr, buf), true);
    h.dirty(old.nr, buf);
    return;
  }
  countRefs(delta, old.entries, -1);
  h.forget(old.nr);
  vol.alloc.freeBlocks(h, old.nr, 1);
}

/**
 * ext4_xattr_delete_inode: an inode being freed lets go of its xattrs: the
 * references its in-inode entries hold on EA inodes, and its block (a shared
 * block's refcount drops; an unshared one is freed with its EA-inode references).
 */
export function releaseXattrs(vol: Volume, h: Handle, inode: Inode): void {
  const delta = new Map<number, number>();
  if (vol.has('incompat', INCOMPAT.ea_inode)) countRefs(delta, inodeXattrs(vol, inode), -1);
  const old = blockState(vol, inode);
  if (old) {
    releaseBlock(vol, h, old, delta);
    inode.fileAcl = 0;
    inode.blocks512 = Math.max(0, inode.blocks512 - vol.blockSize / 512);
  }
  for (const [ino, d] of delta) if (d !== 0) adjustEaRef(vol, h, inode, ino, d);
}

// --- EA inodes ---------------------------------------------------------------------

/** ext4_xattr_inode_get_ref: i_ctime holds the high 32 bits, l_i_version the low. */
function eaRef(ea: Inode): number {
  return (ea.raw.i_ctime >>> 0) * 0x1_0000_0000 + ea.raw.l_i_version;
}

function setEaRef(ea: Inode, ref: number): void {
  ea.raw.i_ctime = Math.floor(ref / 0x1_0000_0000) | 0;
  ea.raw.l_i_version = ref >>> 0;
}

function adjustEaRef(vol: Volume, h: Handle, owner: Inode, ino: number, d: number): void {
  const ea = vol.inodes.get(ino);
  if (!(ea.flags & InodeFlags.EA_INODE)) corrupt('xattr', `value inode ${ino} lacks the EA_INODE flag`, { ino: owner.ino });
  let ref = eaRef(ea) + d;
  if (ref < 0) {
    vol.log.error(`EA inode ${ino}: reference count would drop below zero (owner ${owner.ino})`);
    ref = 0;
  }
  if (ref === 0) {
    freeEaInode(vol, h, ea);
    return;
  }
  setEaRef(ea, ref);
  vol.writeInode(h, ea);
}

/**
 * A new EA inode holding `value` (ext4_xattr_inode_create): a regular file,
 * mode 0600, owner's uid/gid, EA_INODE|EXTENTS, i_atime = crc32c hash of the
 * value, refcount 0 (the caller's reference accounting raises it), data in at
 * most four extents in i_block. Returns its number or -ENOSPC.
 */
function createEaInode(vol: Volume, h: Handle, owner: Inode, value: Uint8Array): number {
  const bs = vol.blockSize;
  const ino = vol.alloc.allocInode(h, owner.ino, false);
  if (ino < 0) return ino;
  const need = Math.ceil(value.length / bs);
  const runs: { start: number; length: number }[] = [];
  let got = 0;
  let goal = groupFirstBlock(vol.geo, Math.floor((ino - 1) / vol.geo.inodesPerGroup));
  const undo = (err: number): number => {
    for (const r of runs) {
      for (let i = 0; i < r.length; i++) h.forget(r.start + i);
      vol.alloc.freeBlocks(h, r.start, r.length);
    }
    vol.alloc.freeInode(h, ino, false);
    return err;
  };
  while (got < need) {
    const r = vol.alloc.allocBlocks(h, goal, Math.min(need - got, EXT_MAX_LEN));
    if (typeof r === 'number') return undo(r);
    const last = runs[runs.length - 1];
    if (last && last.start + last.length === r.start && last.length + r.length <= EXT_MAX_LEN) last.length += r.length;
    else runs.push({ start: r.start, length: r.length });
    got += r.length;
    goal = r.start + r.length;
    if (runs.length > EXT4_EXT_ROOT_MAX) return undo(-Errno.ENOSPC);
  }
  let lblk = 0;
  for (const r of runs) {
    for (let i = 0; i < r.length; i++, lblk++) {
      const buf = h.getNew(r.start + i);
      buf.set(value.subarray(lblk * bs, Math.min(value.length, (lblk + 1) * bs)));
      h.dirty(r.start + i, buf);
    }
  }
  const ea = vol.inodes.get(ino);
  const size = vol.geo.inodeSize;
  ea.bytes.fill(0, 0, size);
  if (size > GOOD_OLD_INODE_SIZE) ea.raw.i_extra_isize = Math.min(vol.sb.s_want_extra_isize || 32, size - GOOD_OLD_INODE_SIZE);
  ea.mode = S_IFREG | 0o600;
  ea.uid = owner.uid;
  ea.gid = owner.gid;
  ea.linksCount = 1;
  ea.flags = InodeFlags.EA_INODE | InodeFlags.EXTENTS;
  ea.size = value.length;
  ea.blocks512 = need * (bs / 512);
  ea.generation = (Math.random() * 0x1_0000_0000) >>> 0;
  const now = { sec: Math.floor(Date.now() / 1000), nsec: 0 };
  ea.setTime('mtime', now);
  ea.setTime('crtime', now);
  ea.raw.i_atime = eaInodeHash(vol.csumSeed, value) | 0; // ext4_xattr_inode_set_hash (atime extra stays 0)
  setEaRef(ea, 0);
  const dv = viewOf(ea.bytes);
  dv.setUint16(I_BLOCK_OFFSET, EXT4_EXT_MAGIC, true);
  dv.setUint16(I_BLOCK_OFFSET + 2, runs.length, true);
  dv.setUint16(I_BLOCK_OFFSET + 4, EXT4_EXT_ROOT_MAX, true);
  lblk = 0;
  runs.forEach((r, i) => {
    const e = I_BLOCK_OFFSET + 12 + i * 12;
    dv.setUint32(e, lblk, true);
    dv.setUint16(e + 4, r.length, true);
    dv.setUint16(e + 6, Math.floor(r.start / 0x1_0000_0000), true);
    dv.setUint32(e + 8, r.start >>> 0, true);
    lblk += r.length;
  });
  ea.dirty = true;
  return ino;
}

/** Free an EA inode whose last reference went: its blocks (data and tree), then the inode. */
function freeEaInode(vol: Volume, h: Handle, ea: Inode): void {
  const runs: { start: number; length: number }[] = [];
  const meta: number[] = [];
  walkRuns(vol, ea, (r) => { if (r.physical) runs.push({ start: r.physical, length: r.length }); }, (b) => meta.push(b));
  for (const r of runs) {
    for (let i = 0; i < r.length; i++) h.forget(r.start + i);
    vol.alloc.freeBlocks(h, r.start, r.length);
  }
  for (const b of meta) { h.forget(b); vol.alloc.freeBlocks(h, b, 1); }
  const dv = viewOf(ea.bytes);
  ea.bytes.fill(0, I_BLOCK_OFFSET, I_BLOCK_OFFSET + 60);
  dv.setUint16(I_BLOCK_OFFSET, EXT4_EXT_MAGIC, true);
  dv.setUint16(I_BLOCK_OFFSET + 4, EXT4_EXT_ROOT_MAX, true);
  ea.size = 0;
  ea.blocks512 = 0;
  ea.linksCount = 0;
  ea.dtime = Math.floor(Date.now() / 1000) >>> 0;
  vol.writeInode(h, ea);
  vol.alloc.freeInode(h, ea.ino, false);
  vol.inodes.forget(ea.ino);
}
