// Commit blocks (Documentation/filesystems/ext4/journal.rst, "Commit Block";
// include/linux/jbd2.h struct commit_header). With the v1 COMPAT_CHECKSUM
// feature h_chksum[0] is the crc32_be of the transaction's descriptor and data
// blocks (type 1, size 4); with v2/v3 it is crc32c of the commit block itself.
import { defineStruct } from '../../../util/struct.js';

export const COMMIT_HEADER_SIZE = 0x3c;

export const CommitHeader = defineStruct('commit_header', COMMIT_HEADER_SIZE, [
  { name: 'h_magic', offset: 0x0, type: 'be32', doc: 'jbd2 magic number' },
  { name: 'h_blocktype', offset: 0x4, type: 'be32', doc: '2 (commit)' },
  { name: 'h_sequence', offset: 0x8, type: 'be32', doc: 'Transaction ID' },
  { name: 'h_chksum_type', offset: 0xc, type: 'u8', doc: 'Checksum type (1 crc32, 2 md5, 3 sha1, 0 none)' },
  { name: 'h_chksum_size', offset: 0xd, type: 'u8', doc: 'Bytes of checksum used' },
  { name: 'h_padding', offset: 0xe, type: 'bytes', size: 2, doc: 'Padding' },
  { name: 'h_chksum', offset: 0x10, type: 'bytes', size: 32, doc: 'Checksum space; h_chksum[0] (be32) is used' },
  { name: 'h_commit_sec', offset: 0x30, type: 'be64', doc: 'Commit time, seconds since the epoch' },
  { name: 'h_commit_nsec', offset: 0x38, type: 'be32', doc: 'Nanoseconds of the commit time' },
] as const);

/** Offset of h_chksum[0]. */
export const COMMIT_CHKSUM_OFFSET = 0x10;
/** JBD2_CRC32_CHKSUM and its size. */
export const JBD2_CRC32_CHKSUM = 1;
export const JBD2_CRC32_CHKSUM_SIZE = 4;
