// Extended attributes of an inode, read side: Documentation/filesystems/ext4/attributes.rst.
// In-inode entries (after i_extra_isize), then the external block (i_file_acl),
// values in ea_inodes where the feature is on. The block's checksum is verified.
import { Errno } from '../util/errno.js';
import { corrupt, CorruptionError } from './errors.js';
import type { Inode } from './inode.js';
import { GOOD_OLD_INODE_SIZE, InodeFlags } from './layout/inode.js';
import { INCOMPAT } from './layout/features.js';
import { parseInodeXattrs, parseXattrBlock, xattrBlockChecksum, type XattrEntry, type XattrParseOptions } from './xattr-codec.js';
import type { Volume } from './volume.js';
import { viewOf } from '../util/struct.js';
import { readFileRange } from './file.js';

export type { XattrEntry } from './xattr-codec.js';

function parseOpts(vol: Volume): XattrParseOptions {
  return { eaInode: vol.has('incompat', INCOMPAT.ea_inode), firstIno: vol.geo.firstIno, inodesCount: vol.geo.inodesCount };
}

/** The in-inode xattr region (bytes after the extra fields), or null for 128-byte inodes. */
export function inodeXattrRegion(vol: Volume, inode: Inode): Uint8Array | null {
  if (vol.geo.inodeSize <= GOOD_OLD_INODE_SIZE) return null;
  const start = GOOD_OLD_INODE_SIZE + inode.extraIsize;
  if (start >= vol.geo.inodeSize) return null;
  return inode.bytes.subarray(start, vol.geo.inodeSize);
}

export function inodeXattrs(vol: Volume, inode: Inode): XattrEntry[] {
  const region = inodeXattrRegion(vol, inode);
  return region ? parseInodeXattrs(region, inode.ino, parseOpts(vol)) : [];
}

export function blockXattrs(vol: Volume, inode: Inode): XattrEntry[] {
  const nr = inode.fileAcl;
  if (nr === 0) return [];
  if (!vol.validBlock(nr)) corrupt('xattr', `xattr block ${nr} outside the volume`, { ino: inode.ino, block: nr });
  const block = vol.readMetaBlock(nr, 'xattr', { ino: inode.ino });
  const entries = parseXattrBlock(block, nr, parseOpts(vol));
  if (vol.hasMetadataCsum) {
    const stored = viewOf(block).getUint32(0x10, true);
    const want = xattrBlockChecksum(vol.csumSeed, nr, block);
    if (stored !== want) {
      vol.checksumFailure(new CorruptionError('checksum', `xattr block checksum 0x${stored.toString(16)} != 0x${want.toString(16)}`, { ino: inode.ino, block: nr }));
    }
  }
  return entries;
}

/** All xattrs of the inode, in-inode first (as the kernel lists them). */
export function listXattrs(vol: Volume, inode: Inode): XattrEntry[] {
  return [...inodeXattrs(vol, inode), ...blockXattrs(vol, inode)];
}

/** Value of an entry (reading its ea_inode when needed). */
export function xattrValue(vol: Volume, owner: Inode, e: XattrEntry): Uint8Array {
  if (e.value !== undefined) return e.value;
  const ino = e.valueInum!;
  const ea = vol.inodes.get(ino);
  if (!(ea.flags & InodeFlags.EA_INODE)) corrupt('xattr', `value inode ${ino} lacks the EA_INODE flag`, { ino: owner.ino });
  if (ea.size !== e.valueSize) corrupt('xattr', `value inode ${ino} has size ${ea.size}, entry says ${e.valueSize}`, { ino: owner.ino });
  const out = new Uint8Array(e.valueSize);
  readFileRange(vol, ea, 0, out);
  return out;
}

/** Look one attribute up by its (index, name) pair. Returns the value or -ENODATA. */
export function getXattr(vol: Volume, inode: Inode, index: number, name: Uint8Array): Uint8Array | number {
  for (const e of listXattrs(vol, inode)) {
    if (e.index === index && bytesEqual(e.nameBytes, name)) return xattrValue(vol, inode, e);
  }
  return -Errno.ENODATA;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
