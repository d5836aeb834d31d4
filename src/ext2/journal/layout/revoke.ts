// Revoke blocks (Documentation/filesystems/ext4/journal.rst, "Revocation Block";
// include/linux/jbd2.h jbd2_journal_revoke_header_t): a header, the byte count
// used (r_count, header included), then be32 (be64 with 64bit) block numbers;
// with checksum v2/v3 the last 4 bytes are a jbd2_journal_block_tail.
import { defineStruct } from '../../../util/struct.js';

export const REVOKE_HEADER_SIZE = 16;

export const RevokeHeader = defineStruct('jbd2_journal_revoke_header_t', REVOKE_HEADER_SIZE, [
  { name: 'h_magic', offset: 0x0, type: 'be32', doc: 'jbd2 magic number' },
  { name: 'h_blocktype', offset: 0x4, type: 'be32', doc: '5 (revoke)' },
  { name: 'h_sequence', offset: 0x8, type: 'be32', doc: 'Transaction ID' },
  { name: 'r_count', offset: 0xc, type: 'be32', doc: 'Bytes used in this block, header included' },
] as const);

/** Size of one revoke record. */
export function revokeRecordSize(is64: boolean): number {
  return is64 ? 8 : 4;
}
