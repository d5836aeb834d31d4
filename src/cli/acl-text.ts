// ACLs for display: ext4 keeps system.posix_acl_* in its own on-disk format
// (src/ext2/acl.ts converts it); inspect --json shows them as getfacl-style text.
import { ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_USER, ACL_USER_OBJ, parseDiskAcl } from '../ext2/acl.js';

function perms(p: number): string {
  return `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`;
}

/** "user::rw-,user:1000:rw-,group::r--,mask::rw-,other::r--" for an on-disk ACL, or undefined when damaged. */
export function aclText(disk: Uint8Array): string | undefined {
  let entries;
  try {
    entries = parseDiskAcl(disk);
  } catch {
    return undefined;
  }
  return entries.map((e) => {
    switch (e.tag) {
      case ACL_USER_OBJ: return `user::${perms(e.perm)}`;
      case ACL_USER: return `user:${e.id}:${perms(e.perm)}`;
      case ACL_GROUP_OBJ: return `group::${perms(e.perm)}`;
      case ACL_GROUP: return `group:${e.id}:${perms(e.perm)}`;
      case ACL_MASK: return `mask::${perms(e.perm)}`;
      default: return `other::${perms(e.perm)}`;
    }
  }).join(',');
}
