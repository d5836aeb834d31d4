// Inline data: Documentation/filesystems/ext4/inlinedata.rst.
// The first 60 bytes live in i_block, the rest in the in-inode xattr
// "system.data" (index 7, name "data"). Inline directories start with the
// parent's inode number (4 bytes) in i_block, then dirents.
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import { inodeXattrs } from './xattr.js';
import type { Volume } from './volume.js';

export const INLINE_IBLOCK_SIZE = 60;
const SYSTEM_INDEX = 7;
const DATA_NAME = 'data';

/** The inline bytes of an inode: i_block followed by the system.data value. */
export function inlineBytes(vol: Volume, inode: Inode): Uint8Array {
  let extra: Uint8Array | undefined;
  for (const e of inodeXattrs(vol, inode)) {
    if (e.index === SYSTEM_INDEX && e.name === DATA_NAME) {
      if (e.value === undefined) corrupt('inline-data', 'system.data stored outside the inode', { ino: inode.ino });
      extra = e.value;
      break;
    }
  }
  const out = new Uint8Array(INLINE_IBLOCK_SIZE + (extra?.length ?? 0));
  out.set(inode.iBlock);
  if (extra) out.set(extra, INLINE_IBLOCK_SIZE);
  return out;
}
