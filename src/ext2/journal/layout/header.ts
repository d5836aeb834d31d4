// The jbd2 block header that starts every metadata block of the log
// (Documentation/filesystems/ext4/journal.rst, "Block Header"; include/linux/jbd2.h
// journal_header_t). All jbd2 fields are big-endian.
import { defineStruct } from '../../../util/struct.js';

/** h_magic of every journal metadata block. */
export const JBD2_MAGIC = 0xc03b3998;

/** h_blocktype values. */
export const BlockType = {
  descriptor: 1,
  commit: 2,
  superblockV1: 3,
  superblockV2: 4,
  revoke: 5,
} as const;

export const HEADER_SIZE = 12;

export const JournalHeader = defineStruct('journal_header_t', HEADER_SIZE, [
  { name: 'h_magic', offset: 0x0, type: 'be32', doc: 'jbd2 magic number, 0xC03B3998' },
  { name: 'h_blocktype', offset: 0x4, type: 'be32', doc: '1 descriptor, 2 commit, 3 superblock v1, 4 superblock v2, 5 revoke' },
  { name: 'h_sequence', offset: 0x8, type: 'be32', doc: 'Transaction ID that goes with this block' },
] as const);

/** Read the three header fields of a log block without building an object. */
export function readHeader(b: Uint8Array): { magic: number; type: number; sequence: number } {
  const dv = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  return { magic: dv.getUint32(0, false), type: dv.getUint32(4, false), sequence: dv.getUint32(8, false) };
}

/** Fill in a header at the start of a zeroed block. */
export function writeHeader(b: Uint8Array, type: number, sequence: number): void {
  const h = new JournalHeader(b, 0);
  h.h_magic = JBD2_MAGIC;
  h.h_blocktype = type;
  h.h_sequence = sequence;
}

/** Transaction IDs wrap at 2^32: x after y (tid_gt). */
export function tidGt(x: number, y: number): boolean {
  return ((x - y) | 0) > 0;
}

/** x at or after y (tid_geq). */
export function tidGeq(x: number, y: number): boolean {
  return ((x - y) | 0) >= 0;
}
