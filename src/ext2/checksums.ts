// Metadata checksums, one verify/set pair per object (DESIGN.md habit 5).
// Documentation/filesystems/ext4/checksums.rst; kernel fs/ext4 (super.c, inode.c,
// extents.c, namei.c, bitmap.c); e2fsprogs lib/ext2fs/csum.c.
//
// All crc32c values here use the kernel's ext4_chksum convention: crc32cLe(seed, data)
// with no inversion; the superblock starts from ~0, the others from the volume seed.
import { crc32cLe, crc32cLeU32 as crcU32 } from '../util/crc32c.js';
import { crc16 } from '../util/crc16.js';
import { BG_CHECKSUM_OFFSET } from './layout/group-desc.js';
import { EXTRA_END, GOOD_OLD_INODE_SIZE } from './layout/inode.js';

const le32 = new Uint8Array(4);
const le32v = new DataView(le32.buffer);

// ---- superblock -------------------------------------------------------------
export function superblockChecksum(sb: Uint8Array): number {
  return crc32cLe(0xffffffff, sb.subarray(0, 0x3fc)) >>> 0;
}

/** The volume checksum seed: s_checksum_seed with csum_seed, else crc32c(~0, uuid). */
export function volumeChecksumSeed(uuid: Uint8Array, csumSeedFeature: boolean, storedSeed: number): number {
  return csumSeedFeature ? storedSeed >>> 0 : crc32cLe(0xffffffff, uuid) >>> 0;
}

// ---- group descriptors ------------------------------------------------------
/** crc32c form (metadata_csum): low 16 bits of crc32c(seed, group, desc with checksum zeroed). */
export function groupDescChecksumCrc32c(seed: number, group: number, desc: Uint8Array): number {
  let crc = crcU32(seed, group);
  crc = crc32cLe(crc, desc.subarray(0, BG_CHECKSUM_OFFSET));
  crc = crc32cLe(crc, ZERO2);
  if (desc.length > BG_CHECKSUM_OFFSET + 2) crc = crc32cLe(crc, desc.subarray(BG_CHECKSUM_OFFSET + 2));
  return crc & 0xffff;
}
const ZERO2 = new Uint8Array(2);

/** crc16 form (gdt_csum): crc16(~0, uuid, group, desc up to the checksum, desc from 0x20 on). */
export function groupDescChecksumCrc16(uuid: Uint8Array, group: number, desc: Uint8Array): number {
  let crc = crc16(0xffff, uuid);
  le32v.setUint32(0, group >>> 0, true);
  crc = crc16(crc, le32);
  crc = crc16(crc, desc.subarray(0, BG_CHECKSUM_OFFSET));
  if (desc.length > 0x20) crc = crc16(crc, desc.subarray(0x20));
  return crc & 0xffff;
}

// ---- bitmaps ----------------------------------------------------------------
/** crc32c(seed, bitmap bytes); the caller stores lo 16 (and hi 16 with 64-byte descriptors). */
export function bitmapChecksum(seed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cLe(seed, bitmap.subarray(0, bytes)) >>> 0;
}

// ---- inodes -----------------------------------------------------------------
/** Per-inode seed: crc32c(crc32c(volume seed, ino), generation) (ext4_inode_csum_seed). */
export function inodeChecksumSeed(volumeSeed: number, ino: number, generation: number): number {
  return crcU32(crcU32(volumeSeed, ino), generation) >>> 0;
}

/**
 * The inode checksum (ext4_inode_csum): the whole on-disk inode with i_checksum_lo
 * and (when the extra part covers it) i_checksum_hi taken as zero.
 * Returns 32 bits; a 128-byte inode stores only the low 16.
 */
export function inodeChecksum(inodeSeed: number, raw: Uint8Array, inodeSize: number): number {
  let crc = crc32cLe(inodeSeed, raw.subarray(0, 0x7c));
  crc = crc32cLe(crc, ZERO2);
  crc = crc32cLe(crc, raw.subarray(0x7e, GOOD_OLD_INODE_SIZE));
  if (inodeSize > GOOD_OLD_INODE_SIZE) {
    const extra = raw[0x80]! | (raw[0x81]! << 8);
    const hasHi = GOOD_OLD_INODE_SIZE + extra >= EXTRA_END.i_checksum_hi;
    crc = crc32cLe(crc, raw.subarray(GOOD_OLD_INODE_SIZE, 0x82));
    if (hasHi) {
      crc = crc32cLe(crc, ZERO2);
      crc = crc32cLe(crc, raw.subarray(0x84, inodeSize));
    } else {
      crc = crc32cLe(crc, raw.subarray(0x82, inodeSize));
    }
  }
  return crc >>> 0;
}

export function inodeHasChecksumHi(raw: Uint8Array, inodeSize: number): boolean {
  if (inodeSize <= GOOD_OLD_INODE_SIZE) return false;
  const extra = raw[0x80]! | (raw[0x81]! << 8);
  return GOOD_OLD_INODE_SIZE + extra >= EXTRA_END.i_checksum_hi;
}

export function storedInodeChecksum(raw: Uint8Array, inodeSize: number): number {
  const lo = raw[0x7c]! | (raw[0x7d]! << 8);
  if (!inodeHasChecksumHi(raw, inodeSize)) return lo;
  return (lo | ((raw[0x82]! | (raw[0x83]! << 8)) << 16)) >>> 0;
}

export function verifyInodeChecksum(inodeSeed: number, raw: Uint8Array, inodeSize: number): boolean {
  const want = inodeChecksum(inodeSeed, raw, inodeSize);
  const got = storedInodeChecksum(raw, inodeSize);
  return inodeHasChecksumHi(raw, inodeSize) ? want === got : (want & 0xffff) === got;
}

export function setInodeChecksum(inodeSeed: number, raw: Uint8Array, inodeSize: number): void {
  const c = inodeChecksum(inodeSeed, raw, inodeSize);
  raw[0x7c] = c & 0xff;
  raw[0x7d] = (c >>> 8) & 0xff;
  if (inodeHasChecksumHi(raw, inodeSize)) {
    raw[0x82] = (c >>> 16) & 0xff;
    raw[0x83] = (c >>> 24) & 0xff;
  }
}

// ---- extent blocks ----------------------------------------------------------
/** Checksum of an extent tree block: crc32c(inode seed, header + eh_max entries). */
export function extentBlockChecksum(inodeSeed: number, block: Uint8Array, ehMax: number): number {
  return crc32cLe(inodeSeed, block.subarray(0, 12 + 12 * ehMax)) >>> 0;
}

// ---- directory leaf blocks --------------------------------------------------
/** Checksum of a linear directory block: crc32c(inode seed, bytes before the 12-byte tail). */
export function dirBlockChecksum(inodeSeed: number, block: Uint8Array, tailOffset: number): number {
  return crc32cLe(inodeSeed, block.subarray(0, tailOffset)) >>> 0;
}

// ---- htree nodes ------------------------------------------------------------
const ZERO4 = new Uint8Array(4);
/** Checksum of an htree node (ext4_dx_csum): entries up to count, dt_reserved, then a zero checksum field. */
export function dxNodeChecksum(inodeSeed: number, block: Uint8Array, countOffset: number, count: number, tailOffset: number): number {
  let crc = crc32cLe(inodeSeed, block.subarray(0, countOffset + count * 8));
  crc = crc32cLe(crc, block.subarray(tailOffset, tailOffset + 4));
  crc = crc32cLe(crc, ZERO4);
  return crc >>> 0;
}
