// Descriptor blocks and their block tags (Documentation/filesystems/ext4/journal.rst,
// "Descriptor Block"; include/linux/jbd2.h journal_block_tag_t, journal_block_tag3_t,
// jbd2_journal_block_tail). A descriptor block is a header, then one tag per
// following log block (16 bytes of UUID after a tag without SAME_UUID), and with
// checksum v2/v3 a 4-byte tail holding the block's checksum.
import { defineStruct } from '../../../util/struct.js';
import { JournalIncompat } from './superblock.js';

/** journal_block_tag3_t: with checksum v3 (always 16 bytes). */
export const BlockTag3 = defineStruct('journal_block_tag3_t', 16, [
  { name: 't_blocknr', offset: 0x0, type: 'be32', doc: 'Lower 32 bits of the filesystem block' },
  { name: 't_flags', offset: 0x4, type: 'be32', doc: 'Flags (JBD2_FLAG_*)' },
  { name: 't_blocknr_high', offset: 0x8, type: 'be32', doc: 'Upper 32 bits (64bit journals only)' },
  { name: 't_checksum', offset: 0xc, type: 'be32', doc: 'crc32c(uuid+seq+block)' },
] as const);

/** journal_block_tag_t: without v3. 12 bytes; +2 unused with v2; the high word exists only with 64bit. */
export const BlockTag = defineStruct('journal_block_tag_t', 12, [
  { name: 't_blocknr', offset: 0x0, type: 'be32', doc: 'Lower 32 bits of the filesystem block' },
  { name: 't_checksum', offset: 0x4, type: 'be16', doc: 'Low 16 bits of crc32c(uuid+seq+block) (v2)' },
  { name: 't_flags', offset: 0x6, type: 'be16', doc: 'Flags (JBD2_FLAG_*)' },
  { name: 't_blocknr_high', offset: 0x8, type: 'be32', doc: 'Upper 32 bits (64bit journals only)' },
] as const);

/** Tag flags (the low 16 bits; tag3 keeps them in the low half of its be32). */
export const TagFlag = {
  /** The block's first 4 bytes were the jbd2 magic and are zeroed in the log. */
  escape: 0x1,
  /** Same UUID as the previous tag: no 16-byte UUID follows. */
  sameUuid: 0x2,
  /** Block deleted by this transaction (unused). */
  deleted: 0x4,
  /** Last tag of this descriptor block. */
  lastTag: 0x8,
} as const;

/** Offset of the 16-bit flags in both tag forms (tag3's be32 flags end there). */
export const TAG_FLAGS_OFFSET = 6;
export const TAG_UUID_SIZE = 16;
/** struct jbd2_journal_block_tail: the checksum at the end of descriptor and revoke blocks. */
export const BLOCK_TAIL_SIZE = 4;

/** journal_tag_bytes(): how long one tag is for these incompat features. */
export function tagBytes(incompat: number): number {
  if (incompat & JournalIncompat.csum_v3) return 16;
  let sz = 12;
  if (incompat & JournalIncompat.csum_v2) sz += 2;
  return incompat & JournalIncompat['64bit'] ? sz : sz - 4;
}
