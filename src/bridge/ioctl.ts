// ioctls served over FUSE: FS_IOC_GETFLAGS/SETFLAGS, FS_IOC_FSGETXATTR/FSSETXATTR
// (include/uapi/linux/fs.h) and FS_IOC_FIEMAP (include/uapi/linux/fiemap.h).
// Without FUSE_IOCTL_UNRESTRICTED the kernel passes exactly the encoded size, so
// FIEMAP can only report the number of extents (fm_extent_count 0), not list them.
import { Errno } from '../util/errno.js';
import type { Filesystem } from '../ext2/fs.js';
import { InodeFlags } from '../ext2/layout/inode.js';
import { walkRuns, isInline } from '../ext2/file.js';
import type { IoctlOut } from '../fuse/ops.js';

export const FS_IOC_GETFLAGS = 0x80086601;
export const FS_IOC_SETFLAGS = 0x40086602;
export const FS_IOC32_GETFLAGS = 0x80046601;
export const FS_IOC32_SETFLAGS = 0x40046602;
export const FS_IOC_FSGETXATTR = 0x801c581f;
export const FS_IOC_FSSETXATTR = 0x401c5820;
export const FS_IOC_FIEMAP = 0xc020660b;

/** Flags visible to users (EXT4_FL_USER_VISIBLE). */
const USER_VISIBLE = 0x705bdfff;

const XFLAG = { SYNC: 0x20, IMMUTABLE: 0x8, APPEND: 0x10, NOATIME: 0x40, NODUMP: 0x80, PROJINHERIT: 0x200 } as const;
const XMAP: [number, number][] = [
  [XFLAG.SYNC, InodeFlags.SYNC], [XFLAG.IMMUTABLE, InodeFlags.IMMUTABLE], [XFLAG.APPEND, InodeFlags.APPEND],
  [XFLAG.NOATIME, InodeFlags.NOATIME], [XFLAG.NODUMP, InodeFlags.NODUMP], [XFLAG.PROJINHERIT, InodeFlags.PROJINHERIT],
];

function put(out: IoctlOut, bytes: Uint8Array): void {
  out.dest.set(bytes.subarray(0, out.dest.length));
  out.length = Math.min(bytes.length, out.dest.length);
}

export function handleIoctl(fs: Filesystem, ino: number, cmd: number, inData: Uint8Array, outSize: number, out: IoctlOut): number {
  const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  switch (cmd >>> 0) {
    case FS_IOC_GETFLAGS:
    case FS_IOC32_GETFLAGS: {
      const b = Buffer.alloc(Math.max(4, outSize));
      b.writeUInt32LE((fs.getFlags(ino) & USER_VISIBLE) >>> 0, 0);
      put(out, b);
      out.result = 0;
      return 0;
    }
    case FS_IOC_SETFLAGS:
    case FS_IOC32_SETFLAGS: {
      if (inData.length < 4) return Errno.EINVAL;
      const r = fs.setFlags(ino, u32(inData, 0));
      if (r < 0) return -r;
      out.result = 0;
      out.length = 0;
      return 0;
    }
    case FS_IOC_FSGETXATTR: {
      const flags = fs.getFlags(ino);
      let x = 0;
      for (const [xf, f] of XMAP) if (flags & f) x |= xf;
      const b = Buffer.alloc(28);
      b.writeUInt32LE(x >>> 0, 0);
      put(out, b);
      out.result = 0;
      return 0;
    }
    case FS_IOC_FSSETXATTR: {
      if (inData.length < 28) return Errno.EINVAL;
      const x = u32(inData, 0);
      let flags = fs.getFlags(ino);
      for (const [xf, f] of XMAP) flags = x & xf ? flags | f : flags & ~f;
      const r = fs.setFlags(ino, flags >>> 0);
      if (r < 0) return -r;
      out.result = 0;
      out.length = 0;
      return 0;
    }
    case FS_IOC_FIEMAP: {
      if (inData.length < 32) return Errno.EINVAL;
      const inode = fs.vol.inodes.get(ino);
      let count = 0;
      if (!isInline(inode)) walkRuns(fs.vol, inode, () => { count++; });
      else count = 1;
      const b = Buffer.from(inData.subarray(0, 32));
      b.writeUInt32LE(count, 20); // fm_mapped_extents
      put(out, b);
      out.result = 0;
      return 0;
    }
    default:
      return Errno.ENOTTY;
  }
}
