// Extended attributes: Documentation/filesystems/ext4/attributes.rst.
// Two places hold them: the space after i_extra_isize in a large inode (an
// ibody header, then entries; value offsets count from the first entry) and
// one block named by i_file_acl (a 32-byte header, then entries; value offsets
// count from the block start). Entries are 4-byte aligned and end with four
// zero bytes; values are packed from the end of the region, each padded to 4.
import { defineStruct } from '../../util/struct.js';

export const EXT4_XATTR_MAGIC = 0xea020000;
/** Bytes of the fixed part of an entry; the name follows, unterminated. */
export const XATTR_ENTRY_SIZE = 16;
export const XATTR_BLOCK_HEADER_SIZE = 32;
export const XATTR_IBODY_HEADER_SIZE = 4;
/** EXT4_XATTR_PAD: entries and values are aligned to this. */
export const XATTR_PAD = 4;
/** EXT4_XATTR_SIZE_MAX: the kernel rejects larger e_value_size (1 << 24). */
export const XATTR_SIZE_MAX = 1 << 24;
/** Longest suffix name (e_name_len is a u8). */
export const XATTR_NAME_MAX = 255;

/** ext4_xattr_header: the header of an xattr block. */
export const XattrBlockHeader = defineStruct('ext4_xattr_header', XATTR_BLOCK_HEADER_SIZE, [
  { name: 'h_magic', offset: 0x0, type: 'u32', doc: 'Magic number, 0xEA020000' },
  { name: 'h_refcount', offset: 0x4, type: 'u32', doc: 'Reference count (inodes sharing this block)' },
  { name: 'h_blocks', offset: 0x8, type: 'u32', doc: 'Number of disk blocks used, always 1' },
  { name: 'h_hash', offset: 0xc, type: 'u32', doc: 'Hash value of all attributes (for block sharing)' },
  { name: 'h_checksum', offset: 0x10, type: 'u32', doc: 'crc32c(uuid+id+xattrblock), metadata_csum' },
  { name: 'h_reserved', offset: 0x14, type: 'bytes', size: 12, doc: 'Zero' },
] as const);
export const XATTR_H_CHECKSUM_OFFSET = 0x10;

/** ext4_xattr_ibody_header: the header of the in-inode xattr area. */
export const XattrIbodyHeader = defineStruct('ext4_xattr_ibody_header', XATTR_IBODY_HEADER_SIZE, [
  { name: 'h_magic', offset: 0x0, type: 'u32', doc: 'Magic number, 0xEA020000' },
] as const);

/** ext4_xattr_entry: fixed part; e_name (e_name_len bytes) follows at 0x10. */
export const XattrEntryHeader = defineStruct('ext4_xattr_entry', XATTR_ENTRY_SIZE, [
  { name: 'e_name_len', offset: 0x0, type: 'u8', doc: 'Length of name' },
  { name: 'e_name_index', offset: 0x1, type: 'u8', doc: 'Attribute name index (prefix table)' },
  { name: 'e_value_offs', offset: 0x2, type: 'u16', doc: 'Offset of the value: from the first entry (ibody) or block start' },
  { name: 'e_value_inum', offset: 0x4, type: 'u32', doc: 'Inode holding the value (ea_inode), else 0' },
  { name: 'e_value_size', offset: 0x8, type: 'u32', doc: 'Length of the value' },
  { name: 'e_hash', offset: 0xc, type: 'u32', doc: 'Hash of name and value (0 in the inode body)' },
] as const);
export const XATTR_E_NAME_OFFSET = 0x10;

/** EXT4_XATTR_LEN: bytes of an entry with a name of nameLen bytes (4-aligned). */
export function xattrEntryLen(nameLen: number): number {
  return (nameLen + XATTR_ENTRY_SIZE + XATTR_PAD - 1) & ~(XATTR_PAD - 1);
}

/** EXT4_XATTR_SIZE: bytes a value of `size` takes (4-aligned). */
export function xattrValueLen(size: number): number {
  return Math.ceil(size / XATTR_PAD) * XATTR_PAD;
}

/** Name indexes (e_name_index); XATTR_PREFIXES maps them to userspace prefixes. */
export const XattrIndex = {
  USER: 1,
  POSIX_ACL_ACCESS: 2,
  POSIX_ACL_DEFAULT: 3,
  TRUSTED: 4,
  LUSTRE: 5,
  SECURITY: 6,
  SYSTEM: 7,
  RICHACL: 8,
  ENCRYPTION: 9,
  HURD: 10,
} as const;

/** Prefix table (e2fsprogs ea_names / kernel handlers), most specific first. */
export const XATTR_PREFIXES: readonly (readonly [index: number, prefix: string, exact: boolean])[] = [
  [10, 'gnu.', false],
  [3, 'system.posix_acl_default', true],
  [2, 'system.posix_acl_access', true],
  [8, 'system.richacl', true],
  [6, 'security.', false],
  [4, 'trusted.', false],
  [7, 'system.', false],
  [1, 'user.', false],
];
const PREFIX_BY_INDEX = new Map(XATTR_PREFIXES.map(([i, p]) => [i, p]));
const PREFIX_BYTES = XATTR_PREFIXES.map(([i, p, exact]) => [i, new TextEncoder().encode(p), exact] as const);

/** Userspace prefix of an index, or undefined when it has none. */
export function xattrPrefix(index: number): string | undefined {
  return PREFIX_BY_INDEX.get(index);
}

export function xattrFullName(index: number, name: string): string {
  const p = PREFIX_BY_INDEX.get(index);
  return p === undefined ? '' : p + name;
}

/**
 * Split a userspace name into (index, suffix bytes). Null when no prefix
 * matches, when a prefix-type name has an empty suffix, or the suffix is too
 * long (the caller answers EOPNOTSUPP / EINVAL / ERANGE as it sees fit).
 */
export function splitXattrName(full: string | Uint8Array): { index: number; nameBytes: Uint8Array } | null {
  const b = typeof full === 'string' ? new TextEncoder().encode(full) : full;
  for (const [index, p, exact] of PREFIX_BYTES) {
    if (b.length < p.length || (exact && b.length !== p.length)) continue;
    let i = 0;
    while (i < p.length && b[i] === p[i]) i++;
    if (i < p.length) continue;
    const nameBytes = b.slice(p.length);
    if ((!exact && nameBytes.length === 0) || nameBytes.length > XATTR_NAME_MAX || nameBytes.includes(0)) return null;
    return { index, nameBytes };
  }
  return null;
}
