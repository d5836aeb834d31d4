// Parsing and validating the journal superblock into the facts replay and the
// writer need (what fs/jbd2/journal.c journal_get_superblock/load_superblock
// check, with the same refusals): format v1/v2, block size, length, first log
// block, feature sets, checksum type and the superblock checksum; the wrap point
// of the log (j_last) leaves out the fast-commit area when there is one.
import { CorruptionError, UnsupportedError } from '../errors.js';
import { Errno } from '../../util/errno.js';
import { BlockType, JBD2_MAGIC } from './layout/header.js';
import {
  DEFAULT_FAST_COMMIT_BLOCKS, JBD2_CRC32C_CHKSUM, JOURNAL_COMPAT_KNOWN, JOURNAL_INCOMPAT_KNOWN, JOURNAL_RO_COMPAT_KNOWN,
  JournalCompat, JournalIncompat, JournalSuperblock, MIN_JOURNAL_BLOCKS,
} from './layout/superblock.js';
import { tagBytes } from './layout/tags.js';
import { journalChecksumSeed, journalSuperblockChecksum } from './checksums.js';

/** Which checksums the log carries: 0 none, 1 v1 commit crc32, 2 and 3 crc32c. */
export type ChecksumVersion = 0 | 1 | 2 | 3;

export interface JournalInfo {
  version: 1 | 2;
  blockSize: number;
  /** s_maxlen, clipped to the journal file's length. */
  maxLen: number;
  /** s_first: first log block. */
  first: number;
  /** j_last: the log wraps here (s_maxlen, less the fast-commit area). */
  last: number;
  /** Fast-commit blocks after `last` (0 without the fast_commit feature). */
  fastCommitBlocks: number;
  compat: number;
  incompat: number;
  roCompat: number;
  csum: ChecksumVersion;
  is64: boolean;
  asyncCommit: boolean;
  revoke: boolean;
  tagBytes: number;
  uuid: Uint8Array;
  /** j_csum_seed (v2/v3). */
  csumSeed: number;
  sequence: number;
  start: number;
  errno: number;
}

function bad(detail: string): never {
  throw new CorruptionError('journal', detail);
}

/** The checksum version a set of features means. */
export function checksumVersion(compat: number, incompat: number): ChecksumVersion {
  if (incompat & JournalIncompat.csum_v3) return 3;
  if (incompat & JournalIncompat.csum_v2) return 2;
  if (compat & JournalCompat.checksum) return 1;
  return 0;
}

/**
 * Validate the journal superblock `b` (the first block of the journal) for a
 * filesystem with `fsBlockSize`-byte blocks whose journal inode maps
 * `journalBlocks` blocks. Throws CorruptionError/UnsupportedError with a message
 * fit for one line.
 */
export function parseJournalSuperblock(b: Uint8Array, fsBlockSize: number, journalBlocks: number): JournalInfo {
  const sb = new JournalSuperblock(b, 0);
  if (sb.h_magic !== JBD2_MAGIC) bad(`journal superblock has bad magic 0x${sb.h_magic.toString(16)} (want 0x${JBD2_MAGIC.toString(16)})`);
  const type = sb.h_blocktype;
  if (type !== BlockType.superblockV1 && type !== BlockType.superblockV2) bad(`unrecognised journal superblock format (block type ${type})`);
  const version = type === BlockType.superblockV1 ? 1 : 2;
  if (sb.s_blocksize !== fsBlockSize) bad(`journal block size ${sb.s_blocksize} differs from the filesystem's ${fsBlockSize}`);
  let maxLen = sb.s_maxlen;
  if (maxLen > journalBlocks) bad(`journal file too short: s_maxlen ${maxLen} > ${journalBlocks} blocks in the journal inode`);
  if (maxLen < journalBlocks) journalBlocks = maxLen;
  maxLen = journalBlocks;
  const first = sb.s_first;
  if (first === 0 || first >= maxLen) bad(`invalid first log block ${first} (journal length ${maxLen})`);
  const compat = version === 2 ? sb.s_feature_compat : 0;
  const incompat = version === 2 ? sb.s_feature_incompat : 0;
  const roCompat = version === 2 ? sb.s_feature_ro_compat : 0;
  const unknownIn = incompat & ~JOURNAL_INCOMPAT_KNOWN;
  const unknownRo = roCompat & ~JOURNAL_RO_COMPAT_KNOWN;
  if (unknownIn || unknownRo) {
    throw new UnsupportedError(`journal has unknown feature(s): incompat 0x${unknownIn.toString(16)} ro_compat 0x${unknownRo.toString(16)}`, Errno.EOPNOTSUPP);
  }
  void JOURNAL_COMPAT_KNOWN;
  if ((incompat & JournalIncompat.csum_v2) && (incompat & JournalIncompat.csum_v3)) bad('journal sets both checksum v2 and v3');
  if ((incompat & (JournalIncompat.csum_v2 | JournalIncompat.csum_v3)) && (compat & JournalCompat.checksum)) {
    bad('journal sets both checksum v1 and v2/v3');
  }
  const csum = checksumVersion(compat, incompat);
  if (csum >= 2) {
    if (sb.s_checksum_type !== JBD2_CRC32C_CHKSUM) bad(`unknown journal checksum type ${sb.s_checksum_type}`);
    const want = journalSuperblockChecksum(b);
    if (want !== sb.s_checksum) bad(`journal superblock checksum 0x${sb.s_checksum.toString(16)} != computed 0x${want.toString(16)}`);
  }
  let last = maxLen;
  let fastCommitBlocks = 0;
  if (incompat & JournalIncompat.fast_commit) {
    const fc = sb.s_num_fc_blks || DEFAULT_FAST_COMMIT_BLOCKS;
    if (maxLen - fc >= MIN_JOURNAL_BLOCKS) {
      last = maxLen - fc;
      fastCommitBlocks = fc;
    }
  }
  if (first >= last) bad(`invalid first log block ${first} (log ends at ${last})`);
  const uuid = new Uint8Array(16);
  uuid.set(sb.s_uuid);
  return {
    version, blockSize: fsBlockSize, maxLen, first, last, fastCommitBlocks,
    compat, incompat, roCompat, csum,
    is64: (incompat & JournalIncompat['64bit']) !== 0,
    asyncCommit: (incompat & JournalIncompat.async_commit) !== 0,
    revoke: (incompat & JournalIncompat.revoke) !== 0,
    tagBytes: tagBytes(incompat),
    uuid,
    csumSeed: journalChecksumSeed(uuid),
    sequence: sb.s_sequence,
    start: sb.s_start,
    errno: sb.s_errno | 0,
  };
}
