// POSIX ACLs: the ext4 on-disk encoding <-> the xattr encoding userspace sees.
//
// Spec: Documentation/filesystems/ext4/attributes.rst ("POSIX ACLs"), kernel
// fs/ext4/acl.c (ext4_acl_from_disk / ext4_acl_to_disk, ext4_acl_count),
// fs/posix_acl.c (posix_acl_from_xattr, posix_acl_valid, posix_acl_equiv_mode),
// include/uapi/linux/posix_acl_xattr.h.
//
// On disk (system.posix_acl_access = index 2, _default = index 3):
//   ext4_acl_header { le32 a_version = 1 }, then entries
//   short { le16 e_tag, le16 e_perm }          for USER_OBJ, GROUP_OBJ, MASK, OTHER
//   full  { le16 e_tag, le16 e_perm, le32 e_id } for USER, GROUP
// Userspace (getxattr/setxattr):
//   posix_acl_xattr_header { le32 a_version = 2 }, then
//   { le16 e_tag, le16 e_perm, le32 e_id } per entry; e_id is ACL_UNDEFINED_ID
//   (0xFFFFFFFF) for the short tags, as the kernel's posix_acl_to_xattr writes it.
import { corrupt, type CorruptionContext } from './errors.js';

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
export const ACL_UNDEFINED_ID = 0xffffffff;
export const EXT4_ACL_VERSION = 1;
export const POSIX_ACL_XATTR_VERSION = 2;

export interface AclEntry {
  tag: number;
  /** rwx bits (4 read, 2 write, 1 execute). */
  perm: number;
  /** uid/gid for USER/GROUP; ACL_UNDEFINED_ID for the others. */
  id: number;
}

const isShortTag = (t: number) => t === ACL_USER_OBJ || t === ACL_GROUP_OBJ || t === ACL_MASK || t === ACL_OTHER;
const isIdTag = (t: number) => t === ACL_USER || t === ACL_GROUP;

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * ext4_acl_count: entries implied by a value size, assuming the short
 * entries are exactly USER_OBJ, GROUP_OBJ, MASK, OTHER. -1 when impossible.
 */
function diskCount(size: number): number {
  size -= 4;
  const s = size - 4 * 4;
  if (s < 0) return size % 4 ? -1 : size / 4;
  return s % 8 ? -1 : s / 8 + 4;
}

/**
 * Parse an on-disk ACL value (ext4_acl_from_disk). An empty list means "no
 * ACL" (header only). Damage throws CorruptionError('xattr').
 */
export function parseDiskAcl(value: Uint8Array, ctx: CorruptionContext = {}): AclEntry[] {
  if (value.length < 4) corrupt('xattr', `ACL value of ${value.length} bytes`, ctx);
  const v = dv(value);
  if (v.getUint32(0, true) !== EXT4_ACL_VERSION) corrupt('xattr', `ACL version ${v.getUint32(0, true)}, expected 1`, ctx);
  const count = diskCount(value.length);
  if (count < 0) corrupt('xattr', `ACL size ${value.length} fits no entry layout`, ctx);
  const out: AclEntry[] = [];
  let p = 4;
  for (let n = 0; n < count; n++) {
    if (p + 4 > value.length) corrupt('xattr', 'ACL entries run past the value', ctx);
    const tag = v.getUint16(p, true);
    const perm = v.getUint16(p + 2, true);
    if (isShortTag(tag)) {
      out.push({ tag, perm, id: ACL_UNDEFINED_ID });
      p += 4;
    } else if (isIdTag(tag)) {
      if (p + 8 > value.length) corrupt('xattr', 'ACL entries run past the value', ctx);
      out.push({ tag, perm, id: v.getUint32(p + 4, true) });
      p += 8;
    } else {
      corrupt('xattr', `ACL entry with unknown tag 0x${tag.toString(16)}`, ctx);
    }
  }
  if (p !== value.length) corrupt('xattr', `ACL entries end at ${p}, value is ${value.length} bytes`, ctx);
  return out;
}

/** ext4_acl_to_disk. */
export function encodeDiskAcl(entries: readonly AclEntry[]): Uint8Array {
  let size = 4;
  for (const e of entries) size += isIdTag(e.tag) ? 8 : 4;
  const out = new Uint8Array(size);
  const v = dv(out);
  v.setUint32(0, EXT4_ACL_VERSION, true);
  let p = 4;
  for (const e of entries) {
    v.setUint16(p, e.tag, true);
    v.setUint16(p + 2, e.perm, true);
    if (isIdTag(e.tag)) {
      v.setUint32(p + 4, e.id, true);
      p += 8;
    } else {
      p += 4;
    }
  }
  return out;
}

/**
 * posix_acl_valid: the canonical order USER_OBJ, USER*, GROUP_OBJ, GROUP*,
 * [MASK], OTHER, perms within rwx, a MASK when there are named entries,
 * named ids defined.
 */
export function aclValid(entries: readonly AclEntry[]): boolean {
  const USER = 1, GROUP = 2, OTHER = 3, DONE = 0;
  let state: number = -1; // expecting USER_OBJ
  let needsMask = false;
  for (const e of entries) {
    if (e.perm & ~7) return false;
    switch (e.tag) {
      case ACL_USER_OBJ:
        if (state !== -1) return false;
        state = USER;
        break;
      case ACL_USER:
        if (state !== USER || e.id === ACL_UNDEFINED_ID) return false;
        needsMask = true;
        break;
      case ACL_GROUP_OBJ:
        if (state !== USER) return false;
        state = GROUP;
        break;
      case ACL_GROUP:
        if (state !== GROUP || e.id === ACL_UNDEFINED_ID) return false;
        needsMask = true;
        break;
      case ACL_MASK:
        if (state !== GROUP) return false;
        state = OTHER;
        break;
      case ACL_OTHER:
        if (state === OTHER || (state === GROUP && !needsMask)) {
          state = DONE;
          break;
        }
        return false;
      default:
        return false;
    }
  }
  return state === DONE;
}

/**
 * Parse a userspace (xattr) ACL as setxattr hands it over; null when it is
 * malformed or not valid (the caller answers EINVAL). An empty list (header
 * only) means "remove the ACL".
 */
export function parseXattrAcl(value: Uint8Array): AclEntry[] | null {
  if (value.length < 4 || (value.length - 4) % 8 !== 0) return null;
  const v = dv(value);
  if (v.getUint32(0, true) !== POSIX_ACL_XATTR_VERSION) return null;
  const out: AclEntry[] = [];
  for (let p = 4; p < value.length; p += 8) {
    const tag = v.getUint16(p, true);
    const perm = v.getUint16(p + 2, true);
    if (isShortTag(tag)) out.push({ tag, perm, id: ACL_UNDEFINED_ID });
    else if (isIdTag(tag)) out.push({ tag, perm, id: v.getUint32(p + 4, true) });
    else return null;
  }
  if (out.length === 0) return out;
  return aclValid(out) ? out : null;
}

/** posix_acl_to_xattr. */
export function encodeXattrAcl(entries: readonly AclEntry[]): Uint8Array {
  const out = new Uint8Array(4 + 8 * entries.length);
  const v = dv(out);
  v.setUint32(0, POSIX_ACL_XATTR_VERSION, true);
  entries.forEach((e, i) => {
    const p = 4 + 8 * i;
    v.setUint16(p, e.tag, true);
    v.setUint16(p + 2, e.perm, true);
    v.setUint32(p + 4, isIdTag(e.tag) ? e.id : ACL_UNDEFINED_ID, true);
  });
  return out;
}

/** On-disk ACL value → getxattr value; null when the ACL is empty (the kernel then reports no ACL). */
export function aclDiskToXattr(value: Uint8Array, ctx: CorruptionContext = {}): Uint8Array | null {
  const entries = parseDiskAcl(value, ctx);
  return entries.length ? encodeXattrAcl(entries) : null;
}

/**
 * setxattr value → on-disk ACL value; null for an invalid ACL (EINVAL);
 * an empty array for an empty ACL, which means "remove the xattr".
 */
export function aclXattrToDisk(value: Uint8Array): Uint8Array | null {
  const entries = parseXattrAcl(value);
  if (entries === null) return null;
  return entries.length ? encodeDiskAcl(entries) : new Uint8Array(0);
}

/**
 * posix_acl_equiv_mode: the permission bits (0o777) an ACL implies, and
 * whether the ACL says nothing more than those bits (then it need not be stored).
 */
export function aclModeBits(entries: readonly AclEntry[]): { mode: number; equivalent: boolean } {
  let mode = 0;
  let equivalent = true;
  for (const e of entries) {
    const p = e.perm & 7;
    if (e.tag === ACL_USER_OBJ) mode |= p << 6;
    else if (e.tag === ACL_GROUP_OBJ) mode |= p << 3;
    else if (e.tag === ACL_OTHER) mode |= p;
    else if (e.tag === ACL_MASK) {
      mode = (mode & ~0o070) | (p << 3);
      equivalent = false;
    } else equivalent = false;
  }
  return { mode, equivalent };
}
