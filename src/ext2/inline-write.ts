// Inline data, write side: Documentation/filesystems/ext4/inlinedata.rst.
// Moving data out of the inode removes the "system.data" in-inode xattr, as the
// kernel's ext4_destroy_inline_data_nolock does.
import { parseInodeXattrs, encodeInodeXattrs } from './xattr-codec.js';
import { inodeXattrRegion } from './xattr.js';
import { INCOMPAT } from './layout/features.js';
import { CorruptionError } from './errors.js';
import type { Inode } from './inode.js';
import type { Volume } from './volume.js';

/** Drop system.data from the in-inode xattrs and clear i_block (in memory; the caller writes the inode). */
export function dropInlineDataXattr(vol: Volume, inode: Inode): void {
  const region = inodeXattrRegion(vol, inode);
  if (region) {
    const entries = parseInodeXattrs(region, inode.ino, { eaInode: vol.has('incompat', INCOMPAT.ea_inode), firstIno: vol.geo.firstIno, inodesCount: vol.geo.inodesCount });
    const keep = entries.filter((e) => !(e.index === 7 && e.name === 'data'));
    if (keep.length !== entries.length) {
      const enc = keep.length === 0 ? null : encodeInodeXattrs(keep.map((e) => (e.valueInum !== undefined ? { index: e.index, nameBytes: e.nameBytes, valueInum: e.valueInum, valueSize: e.valueSize, hash: e.hash } : { index: e.index, nameBytes: e.nameBytes, value: e.value })), region.length);
      if (keep.length > 0 && enc === null) throw new CorruptionError('xattr', 'in-inode xattrs no longer fit after removing system.data', { ino: inode.ino });
      region.fill(0);
      if (enc) region.set(enc);
    }
  }
  inode.bytes.fill(0, 0x28, 0x28 + 60);
}
