// The journal superblock, block 0 of the journal (Documentation/filesystems/ext4/
// journal.rst, "Super Block"; include/linux/jbd2.h journal_superblock_t).
// v1 (h_blocktype 3) ends after s_errno; v2 (h_blocktype 4) adds features,
// the UUID, users, the checksum type and the superblock checksum.
import { defineStruct } from '../../../util/struct.js';

export const JOURNAL_SUPERBLOCK_SIZE = 1024;

export const JournalSuperblock = defineStruct('journal_superblock_t', JOURNAL_SUPERBLOCK_SIZE, [
  { name: 'h_magic', offset: 0x0, type: 'be32', doc: 'jbd2 magic number' },
  { name: 'h_blocktype', offset: 0x4, type: 'be32', doc: '3 (v1) or 4 (v2)' },
  { name: 'h_sequence', offset: 0x8, type: 'be32', doc: 'unused in the superblock' },
  // static information describing the journal
  { name: 's_blocksize', offset: 0xc, type: 'be32', doc: 'Journal device block size' },
  { name: 's_maxlen', offset: 0x10, type: 'be32', doc: 'Total number of blocks in this journal' },
  { name: 's_first', offset: 0x14, type: 'be32', doc: 'First block of log information' },
  // dynamic information describing the current state of the log
  { name: 's_sequence', offset: 0x18, type: 'be32', doc: 'First commit ID expected in log' },
  { name: 's_start', offset: 0x1c, type: 'be32', doc: 'Block number of the start of log; 0 = the journal is clean' },
  { name: 's_errno', offset: 0x20, type: 'be32', doc: 'Error value, as set by jbd2_journal_abort() (signed)' },
  // v2 only
  { name: 's_feature_compat', offset: 0x24, type: 'be32', doc: 'Compatible feature set' },
  { name: 's_feature_incompat', offset: 0x28, type: 'be32', doc: 'Incompatible feature set' },
  { name: 's_feature_ro_compat', offset: 0x2c, type: 'be32', doc: 'Read-only compatible feature set (none defined)' },
  { name: 's_uuid', offset: 0x30, type: 'bytes', size: 16, doc: '128-bit uuid for journal' },
  { name: 's_nr_users', offset: 0x40, type: 'be32', doc: 'Number of file systems sharing the log' },
  { name: 's_dynsuper', offset: 0x44, type: 'be32', doc: 'Location of dynamic superblock copy (unused)' },
  { name: 's_max_transaction', offset: 0x48, type: 'be32', doc: 'Limit of journal blocks per transaction (unused)' },
  { name: 's_max_trans_data', offset: 0x4c, type: 'be32', doc: 'Limit of data blocks per transaction (unused)' },
  { name: 's_checksum_type', offset: 0x50, type: 'u8', doc: 'Checksum algorithm: 1 crc32, 2 md5, 3 sha1, 4 crc32c' },
  { name: 's_padding2', offset: 0x51, type: 'bytes', size: 3, doc: 'Padding' },
  { name: 's_num_fc_blks', offset: 0x54, type: 'be32', doc: 'Number of fast commit blocks (0 = default 256)' },
  { name: 's_head', offset: 0x58, type: 'be32', doc: 'Block number of the head of the log (for cycled recording)' },
  { name: 's_padding', offset: 0x5c, type: 'bytes', size: 160, doc: 'Padding' },
  { name: 's_checksum', offset: 0xfc, type: 'be32', doc: 'crc32c(superblock) with this field zeroed' },
  { name: 's_users', offset: 0x100, type: 'bytes', size: 768, doc: 'ids of all file systems sharing the log (16 bytes each)' },
] as const);

export const JournalCompat = {
  /** JBD2_FEATURE_COMPAT_CHECKSUM: commit blocks carry a crc32 of the transaction (v1). */
  checksum: 0x1,
} as const;

export const JournalIncompat = {
  revoke: 0x1,
  '64bit': 0x2,
  async_commit: 0x4,
  csum_v2: 0x8,
  csum_v3: 0x10,
  fast_commit: 0x20,
} as const;

/** What this implementation understands; anything else refuses the journal (as jbd2 does). */
export const JOURNAL_INCOMPAT_KNOWN = 0x3f;
export const JOURNAL_COMPAT_KNOWN = 0x1;
export const JOURNAL_RO_COMPAT_KNOWN = 0x0;

/** s_checksum_type for v2/v3 checksums. */
export const JBD2_CRC32C_CHKSUM = 4;

/** Fast-commit area size when s_num_fc_blks is 0 (JBD2_DEFAULT_FAST_COMMIT_BLOCKS). */
export const DEFAULT_FAST_COMMIT_BLOCKS = 256;
/** jbd2 refuses journals shorter than this (JBD2_MIN_JOURNAL_BLOCKS). */
export const MIN_JOURNAL_BLOCKS = 1024;
