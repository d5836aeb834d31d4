// Extended attribute regions: parse (validated), hash, checksum, encode.
//
// Spec: Documentation/filesystems/ext4/attributes.rst; validation follows the
// kernel's fs/ext4/xattr.c check_xattrs(), hashes ext4_xattr_hash_entry() /
// ext4_xattr_rehash(), the checksum ext4_xattr_block_csum(); the encoder lays
// entries out like e2fsprogs' write_xattrs_to_buffer() (lib/ext2fs/ext_attr.c).
//
// Layout decisions (a newcomer would ask):
// - Block entries are sorted by (e_name_index, e_name_len, memcmp(name)), the
//   order the kernel's ext4_xattr_find_entry(sorted=1) and e2fsprogs keep.
//   In-inode entries stay in the caller's order (neither sorts them).
// - Values are packed downward from the end of the region in entry order; an
//   empty value gets the current low-water offset (as e2fsprogs writes it).
// - In-inode entries get e_hash 0 (kernel and e2fsprogs both), except
//   ea_inode references, whose hash the caller supplies.
// - Entry hashes use unsigned name bytes (the kernel's since 6.2, and
//   e2fsprogs 1.47.0's). Older kernels/e2fsprogs on signed-char platforms
//   wrote the signed variant, which the kernel still accepts on read; hence
//   `signed` on xattrEntryHash and `signedNameHash` on the block encoder.
// - e2fsprogs leaves h_hash 0 in blocks it writes; the kernel fills it
//   (ext4_xattr_rehash). `blockHash` picks one.
import { corrupt, type CorruptionContext } from './errors.js';
import { crc32cLe } from '../util/crc32c.js';
export { XATTR_PREFIXES, xattrPrefix, xattrFullName, splitXattrName } from './layout/xattr.js';
import {
  xattrFullName, EXT4_XATTR_MAGIC, XATTR_BLOCK_HEADER_SIZE, XATTR_E_NAME_OFFSET, XATTR_H_CHECKSUM_OFFSET,
  XATTR_IBODY_HEADER_SIZE, XATTR_NAME_MAX, XATTR_SIZE_MAX, xattrEntryLen, xattrValueLen,
} from './layout/xattr.js';

export interface XattrEntry {
  /** e_name_index. */
  index: number;
  /** Name suffix decoded as UTF-8 (lossy for non-UTF-8 bytes; `nameBytes` is exact). */
  name: string;
  nameBytes: Uint8Array;
  /** Userspace name ('user.foo'); '' when the index has no userspace prefix. */
  fullName: string;
  /** The value (a copy), absent when it lives in an ea_inode. */
  value?: Uint8Array;
  /** e_value_inum: the ea_inode holding the value. */
  valueInum?: number;
  valueSize: number;
  /** e_hash as stored. */
  hash: number;
}

export interface XattrParseOptions {
  /** The filesystem has ea_inode; without it a non-zero e_value_inum is damage. Default: allowed. */
  eaInode?: boolean;
  /** s_first_ino (default 11) and s_inodes_count, for the e_value_inum range check. */
  firstIno?: number;
  inodesCount?: number;
}

const utf8 = new TextDecoder('utf-8');
const utf8enc = new TextEncoder();

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/**
 * Walk and validate the entries of a region. `first` is where entries start,
 * `valueBase` what e_value_offs counts from, `end` the end of the region.
 */
function parseEntries(r: Uint8Array, first: number, valueBase: number, ctx: CorruptionContext, opts: XattrParseOptions): XattrEntry[] {
  const end = r.length;
  const bad = (detail: string, offset?: number): never => corrupt('xattr', detail, offset === undefined ? ctx : { ...ctx, offset });
  // Pass 1: the names list (kernel: "e_name out of bounds", "bad e_name length").
  let p = first;
  const starts: number[] = [];
  for (;;) {
    if (p + 4 > end) bad('entry table runs past the end without an end marker', p);
    if (u32(r, p) === 0) break;
    const nameLen = r[p]!;
    const next = p + xattrEntryLen(nameLen);
    if (next + 4 > end) bad('entry name out of bounds', p);
    for (let i = 0; i < nameLen; i++) if (r[p + XATTR_E_NAME_OFFSET + i] === 0) bad('NUL byte inside e_name', p);
    starts.push(p);
    p = next;
  }
  const tableEnd = p + 4; // values may not overlap the entries or the end marker
  // Pass 2: the values.
  const out: XattrEntry[] = [];
  for (const e of starts) {
    const nameLen = r[e]!;
    const index = r[e + 1]!;
    const offs = r[e + 2]! | (r[e + 3]! << 8);
    const inum = u32(r, e + 4);
    const size = u32(r, e + 8);
    const hash = u32(r, e + 12);
    if (inum !== 0) {
      if (opts.eaInode === false) bad(`e_value_inum ${inum} without the ea_inode feature`, e);
      if (inum < (opts.firstIno ?? 11) || (opts.inodesCount !== undefined && inum > opts.inodesCount)) bad(`invalid e_value_inum ${inum}`, e);
    }
    if (size > XATTR_SIZE_MAX) bad(`e_value_size ${size} too large`, e);
    let value: Uint8Array | undefined;
    if (inum === 0) {
      if (size !== 0) {
        if (offs > end - valueBase) bad(`e_value_offs ${offs} out of bounds`, e);
        const v = valueBase + offs;
        if (v < tableEnd || size > end - v || xattrValueLen(size) > end - v) bad(`value at ${offs} (size ${size}) overlaps the entries or the end`, e);
        value = r.slice(v, v + size);
      } else {
        value = new Uint8Array(0);
      }
    }
    const nameBytes = r.slice(e + XATTR_E_NAME_OFFSET, e + XATTR_E_NAME_OFFSET + nameLen);
    const name = utf8.decode(nameBytes);
    const entry: XattrEntry = { index, name, nameBytes, fullName: xattrFullName(index, name), valueSize: size, hash };
    if (value !== undefined) entry.value = value;
    else entry.valueInum = inum;
    out.push(entry);
  }
  return out;
}

/** Parse and validate an xattr block (the whole block, as read from disk). */
export function parseXattrBlock(block: Uint8Array, blockNr: number, opts: XattrParseOptions = {}): XattrEntry[] {
  const ctx = { block: blockNr };
  if (block.length < XATTR_BLOCK_HEADER_SIZE + 4) corrupt('xattr', 'block too small', ctx);
  if (u32(block, 0) !== EXT4_XATTR_MAGIC) corrupt('xattr', `bad block magic 0x${u32(block, 0).toString(16)}`, ctx);
  if (u32(block, 8) !== 1) corrupt('xattr', `h_blocks is ${u32(block, 8)}, not 1`, ctx);
  return parseEntries(block, XATTR_BLOCK_HEADER_SIZE, 0, ctx, opts);
}

/**
 * Parse and validate the in-inode xattr area: `region` is the inode bytes
 * from 128 + i_extra_isize to the end of the on-disk inode. A region without
 * the magic holds no xattrs and yields []; one too small for magic + end marker too.
 */
export function parseInodeXattrs(region: Uint8Array, ino: number, opts: XattrParseOptions = {}): XattrEntry[] {
  if (region.length < XATTR_IBODY_HEADER_SIZE + 4) return [];
  if (u32(region, 0) !== EXT4_XATTR_MAGIC) return [];
  return parseEntries(region, XATTR_IBODY_HEADER_SIZE, XATTR_IBODY_HEADER_SIZE, { ino }, opts);
}

// --- hashes and checksum ----------------------------------------------------

function nameHash(name: Uint8Array, signed: boolean): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    const b = name[i]!;
    h = ((h << 5) ^ (h >>> 27) ^ (signed && b >= 0x80 ? b - 256 : b)) >>> 0;
  }
  return h;
}

/**
 * ext4_xattr_hash_entry: hash of the suffix name and the value read as LE u32
 * words (zero padded). `signed` gives ext4_xattr_hash_entry_signed (what
 * e2fsprogs writes on signed-char platforms).
 */
export function xattrEntryHash(name: Uint8Array, value: Uint8Array, signed = false): number {
  let h = nameHash(name, signed);
  const n = value.length;
  for (let i = 0; i < n; i += 4) {
    const w = (value[i]! | ((value[i + 1] ?? 0) << 8) | ((value[i + 2] ?? 0) << 16) | ((value[i + 3] ?? 0) << 24)) >>> 0;
    h = ((h << 16) ^ (h >>> 16) ^ w) >>> 0;
  }
  return h;
}

/** Entry hash of a value kept in an ea_inode: the name, then the ea_inode's hash as one word. */
export function xattrEntryHashEaInode(name: Uint8Array, eaInodeValueHash: number, signed = false): number {
  const h = nameHash(name, signed);
  return ((h << 16) ^ (h >>> 16) ^ eaInodeValueHash) >>> 0;
}

/** ext4_xattr_inode_hash: the hash kept in an ea_inode (i_atime) = crc32c(fs csum seed, value). */
export function eaInodeHash(csumSeed: number, value: Uint8Array): number {
  return crc32cLe(csumSeed, value);
}

/** ext4_xattr_rehash: h_hash over the entries' e_hash; 0 if any entry hash is 0. */
export function xattrBlockHash(block: Uint8Array): number {
  let h = 0;
  for (let p = XATTR_BLOCK_HEADER_SIZE; p + 4 <= block.length && u32(block, p) !== 0; p += xattrEntryLen(block[p]!)) {
    const e = p + 16 <= block.length ? u32(block, p + 12) : 0;
    if (e === 0) return 0;
    h = ((h << 16) ^ (h >>> 16) ^ e) >>> 0;
  }
  return h;
}

const ZERO4 = new Uint8Array(4);

/** ext4_xattr_block_csum: crc32c(seed, le64 blockNr), then the block with h_checksum as zero. */
export function xattrBlockChecksum(seed: number, blockNr: number, block: Uint8Array): number {
  const nr = new Uint8Array(8);
  const dv = new DataView(nr.buffer);
  dv.setUint32(0, blockNr % 0x1_0000_0000, true);
  dv.setUint32(4, Math.floor(blockNr / 0x1_0000_0000), true);
  let c = crc32cLe(seed, nr);
  c = crc32cLe(c, block.subarray(0, XATTR_H_CHECKSUM_OFFSET));
  c = crc32cLe(c, ZERO4);
  return crc32cLe(c, block.subarray(XATTR_H_CHECKSUM_OFFSET + 4));
}

// --- encoding ---------------------------------------------------------------

/** What the encoders take: a parsed entry, or a new one. */
export interface XattrInput {
  index: number;
  /** Suffix name; `nameBytes` wins over `name`. */
  nameBytes?: Uint8Array;
  name?: string;
  value?: Uint8Array;
  /** ea_inode reference (then `value` is ignored; `valueSize` and `hash` are required). */
  valueInum?: number;
  valueSize?: number;
  hash?: number;
}

interface Prepared {
  index: number;
  name: Uint8Array;
  value: Uint8Array | null;
  inum: number;
  size: number;
  hash: number;
}

function prepare(e: XattrInput): Prepared {
  const name = e.nameBytes ?? utf8enc.encode(e.name ?? '');
  if (name.length > XATTR_NAME_MAX) throw new RangeError(`xattr name of ${name.length} bytes`);
  const inum = e.valueInum ?? 0;
  if (inum) return { index: e.index, name, value: null, inum, size: e.valueSize ?? 0, hash: e.hash ?? 0 };
  const value = e.value ?? new Uint8Array(0);
  return { index: e.index, name, value, inum: 0, size: value.length, hash: 0 };
}

/** Block order: (index, name length, name bytes). */
export function compareXattrBlockOrder(a: { index: number; name: Uint8Array }, b: { index: number; name: Uint8Array }): number {
  if (a.index !== b.index) return a.index - b.index;
  if (a.name.length !== b.name.length) return a.name.length - b.name.length;
  for (let i = 0; i < a.name.length; i++) if (a.name[i] !== b.name[i]) return a.name[i]! - b.name[i]!;
  return 0;
}

/** Lay out entries in r[first..] with values from the end; false when they do not fit. */
function layout(r: Uint8Array, first: number, valueBase: number, list: Prepared[], hashValues: boolean, signed: boolean): boolean {
  const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
  let p = first;
  let low = r.length;
  for (const x of list) {
    const entLen = xattrEntryLen(x.name.length);
    const valLen = x.inum ? 0 : xattrValueLen(x.size);
    if (p + entLen + 4 > low - valLen) return false;
    low -= valLen;
    r[p] = x.name.length;
    r[p + 1] = x.index;
    dv.setUint16(p + 2, x.inum ? 0 : low - valueBase, true);
    dv.setUint32(p + 4, x.inum, true);
    dv.setUint32(p + 8, x.size, true);
    r.set(x.name, p + XATTR_E_NAME_OFFSET);
    if (x.value) r.set(x.value, low);
    const hash = x.inum ? x.hash : hashValues ? xattrEntryHash(x.name, x.value!, signed) : 0;
    dv.setUint32(p + 12, hash, true);
    p += entLen;
  }
  return true;
}

export interface EncodeBlockOptions {
  /** h_refcount (default 1). */
  refcount?: number;
  /** Fill h_hash like ext4_xattr_rehash (default true); e2fsprogs leaves it 0. */
  blockHash?: boolean;
  /** Use the signed-char name hash (e2fsprogs on x86). Default false (kernel). */
  signedNameHash?: boolean;
}

/** Encode an xattr block; null when the entries do not fit. h_checksum is left 0 (see xattrBlockChecksum). */
export function encodeXattrBlock(entries: readonly XattrInput[], blockSize: number, opts: EncodeBlockOptions = {}): Uint8Array | null {
  const list = entries.map(prepare).sort(compareXattrBlockOrder);
  for (let i = 1; i < list.length; i++) {
    if (compareXattrBlockOrder(list[i - 1]!, list[i]!) === 0) throw new RangeError('duplicate xattr name');
  }
  const block = new Uint8Array(blockSize);
  if (!layout(block, XATTR_BLOCK_HEADER_SIZE, 0, list, true, opts.signedNameHash ?? false)) return null;
  const dv = new DataView(block.buffer);
  dv.setUint32(0, EXT4_XATTR_MAGIC, true);
  dv.setUint32(4, opts.refcount ?? 1, true);
  dv.setUint32(8, 1, true);
  if (opts.blockHash ?? true) dv.setUint32(12, xattrBlockHash(block), true);
  return block;
}

/**
 * Encode the in-inode xattr area (`regionSize` = inode size - 128 - i_extra_isize),
 * entries in the given order; null when they do not fit. No entries gives an
 * all-zero region (no magic), as the kernel leaves it.
 */
export function encodeInodeXattrs(entries: readonly XattrInput[], regionSize: number): Uint8Array | null {
  const region = new Uint8Array(regionSize);
  if (entries.length === 0) return region;
  if (regionSize < XATTR_IBODY_HEADER_SIZE + 4) return null;
  if (!layout(region, XATTR_IBODY_HEADER_SIZE, XATTR_IBODY_HEADER_SIZE, entries.map(prepare), false, false)) return null;
  new DataView(region.buffer).setUint32(0, EXT4_XATTR_MAGIC, true);
  return region;
}
