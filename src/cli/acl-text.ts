// ACL values for display and extraction: ext4 keeps system.posix_acl_* in its
// own compact format (version 1: 4-byte entries for the *_OBJ, MASK and OTHER
// tags, 8-byte ones with an id for USER and GROUP; fs/ext4/acl.h), while the
// kernel's xattr interface speaks the POSIX xattr format (version 2, every
// entry 8 bytes; include/uapi/linux/posix_acl_xattr.h).
const EXT4_ACL_VERSION = 1;
const POSIX_ACL_XATTR_VERSION = 2;
const TAG = { USER_OBJ: 0x01, USER: 0x02, GROUP_OBJ: 0x04, GROUP: 0x08, MASK: 0x10, OTHER: 0x20 } as const;
const UNDEFINED_ID = 0xffffffff;

export interface AclEntry {
  tag: number;
  perm: number;
  /** uid/gid for USER/GROUP entries, else undefined. */
  id?: number;
}

/** Parse an ext4 on-disk ACL (version 1). Null when malformed. */
export function parseExt4Acl(b: Uint8Array): AclEntry[] | null {
  if (b.length < 4) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== EXT4_ACL_VERSION) return null;
  const out: AclEntry[] = [];
  let off = 4;
  while (off < b.length) {
    if (off + 4 > b.length) return null;
    const tag = dv.getUint16(off, true);
    const perm = dv.getUint16(off + 2, true);
    if (tag === TAG.USER || tag === TAG.GROUP) {
      if (off + 8 > b.length) return null;
      out.push({ tag, perm, id: dv.getUint32(off + 4, true) });
      off += 8;
    } else if (tag === TAG.USER_OBJ || tag === TAG.GROUP_OBJ || tag === TAG.MASK || tag === TAG.OTHER) {
      out.push({ tag, perm });
      off += 4;
    } else {
      return null;
    }
  }
  return out;
}

/** The POSIX ACL xattr value (version 2) the kernel would return for these entries. */
export function posixAclXattr(entries: AclEntry[]): Uint8Array {
  const out = new Uint8Array(4 + entries.length * 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, POSIX_ACL_XATTR_VERSION, true);
  entries.forEach((e, i) => {
    dv.setUint16(4 + i * 8, e.tag, true);
    dv.setUint16(6 + i * 8, e.perm, true);
    dv.setUint32(8 + i * 8, e.id ?? UNDEFINED_ID, true);
  });
  return out;
}

/** ext4 on-disk ACL → POSIX xattr bytes; null when the value is not a valid ext4 ACL. */
export function ext4AclToPosix(b: Uint8Array): Uint8Array | null {
  const e = parseExt4Acl(b);
  return e ? posixAclXattr(e) : null;
}

function perms(p: number): string {
  return `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`;
}

/** getfacl-style short text ("user::rw-,user:1000:rw-,group::r--,mask::rw-,other::r--"), or undefined. */
export function aclText(b: Uint8Array): string | undefined {
  const entries = parseExt4Acl(b);
  if (!entries) return undefined;
  return entries.map((e) => {
    switch (e.tag) {
      case TAG.USER_OBJ: return `user::${perms(e.perm)}`;
      case TAG.USER: return `user:${e.id}:${perms(e.perm)}`;
      case TAG.GROUP_OBJ: return `group::${perms(e.perm)}`;
      case TAG.GROUP: return `group:${e.id}:${perms(e.perm)}`;
      case TAG.MASK: return `mask::${perms(e.perm)}`;
      default: return `other::${perms(e.perm)}`;
    }
  }).join(',');
}
