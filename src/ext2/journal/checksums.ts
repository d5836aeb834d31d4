// jbd2 checksums, one compute/verify pair per object (DESIGN.md habit 5).
// Documentation/filesystems/ext4/journal.rst ("Checksums"); fs/jbd2/commit.c,
// recovery.c and journal.c.
//
// v1 (COMPAT_CHECKSUM): the commit block carries crc32_be(~0, descriptor and
// data blocks of the transaction, in log order) — the kernel's big-endian
// crc32 (polynomial 0x04C11DB7, MSB first, no inversion).
// v2/v3: crc32c with the kernel's raw convention (util/crc32c.ts) seeded with
// j_csum_seed = crc32c(~0, s_uuid): data blocks (seed, be32 sequence, block),
// descriptor and revoke blocks (seed, block with the tail zeroed), the commit
// block (seed, block with h_chksum[0] zeroed), the superblock (~0, 1024 bytes
// with s_checksum zeroed). Tags keep the low 16 bits with v2, all 32 with v3.
import { crc32cLe } from '../../util/crc32c.js';
import { BLOCK_TAIL_SIZE } from './layout/tags.js';
import { COMMIT_CHKSUM_OFFSET, COMMIT_HEADER_SIZE } from './layout/commit.js';
import { JOURNAL_SUPERBLOCK_SIZE } from './layout/superblock.js';

// ---- crc32_be ------------------------------------------------------------------
const BE_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** The kernel's crc32_be(crc, data): MSB-first CRC-32, no inversion. */
export function crc32Be(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < data.length; i++) c = ((c << 8) ^ BE_TABLE[((c >>> 24) ^ data[i]!) & 0xff]!) >>> 0;
  return c;
}

// ---- crc32c helpers --------------------------------------------------------------
const SEQ = new Uint8Array(4);
const SEQ_DV = new DataView(SEQ.buffer);
const ZERO4 = new Uint8Array(4);

/** j_csum_seed: crc32c(~0, journal uuid). */
export function journalChecksumSeed(uuid: Uint8Array): number {
  return crc32cLe(0xffffffff, uuid.subarray(0, 16)) >>> 0;
}

/** Journal superblock checksum (stored big-endian in s_checksum at 0xFC). */
export function journalSuperblockChecksum(sb: Uint8Array): number {
  let c = crc32cLe(0xffffffff, sb.subarray(0, 0xfc));
  c = crc32cLe(c, ZERO4);
  return crc32cLe(c, sb.subarray(0x100, JOURNAL_SUPERBLOCK_SIZE)) >>> 0;
}

/** Checksum of a descriptor or revoke block (its tail zeroed). */
export function blockTailChecksum(seed: number, block: Uint8Array): number {
  const end = block.length - BLOCK_TAIL_SIZE;
  return crc32cLe(crc32cLe(seed, block.subarray(0, end)), ZERO4) >>> 0;
}

export function verifyBlockTail(seed: number, block: Uint8Array): boolean {
  const dv = new DataView(block.buffer, block.byteOffset, block.length);
  return dv.getUint32(block.length - BLOCK_TAIL_SIZE, false) === blockTailChecksum(seed, block);
}

export function setBlockTail(seed: number, block: Uint8Array): void {
  const dv = new DataView(block.buffer, block.byteOffset, block.length);
  dv.setUint32(block.length - BLOCK_TAIL_SIZE, blockTailChecksum(seed, block), false);
}

/** Checksum of a logged data block: crc32c(seed, be32 sequence, block as logged). */
export function dataBlockChecksum(seed: number, sequence: number, block: Uint8Array): number {
  SEQ_DV.setUint32(0, sequence >>> 0, false);
  return crc32cLe(crc32cLe(seed, SEQ), block) >>> 0;
}

/** Checksum of a commit block (h_chksum[0] zeroed). */
export function commitBlockChecksum(seed: number, block: Uint8Array): number {
  let c = crc32cLe(seed, block.subarray(0, COMMIT_CHKSUM_OFFSET));
  c = crc32cLe(c, ZERO4);
  return crc32cLe(c, block.subarray(COMMIT_CHKSUM_OFFSET + 4)) >>> 0;
}

/**
 * jbd2_commit_block_csum_verify_partial: the checksum computed over a block that
 * holds only the commit header (the rest zero) — what a commit block torn after
 * its first sector carries.
 */
export function commitBlockChecksumPartial(seed: number, block: Uint8Array): number {
  const tmp = new Uint8Array(block.length);
  tmp.set(block.subarray(0, COMMIT_HEADER_SIZE));
  return commitBlockChecksum(seed, tmp);
}
