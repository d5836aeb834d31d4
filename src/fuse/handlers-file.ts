// Handlers for open files and directories: OPEN, CREATE, TMPFILE, READ,
// WRITE, FLUSH, RELEASE, FSYNC, OPENDIR, READDIR, READDIRPLUS, RELEASEDIR,
// FSYNCDIR, FALLOCATE, LSEEK, COPY_FILE_RANGE(_64), IOCTL, BMAP, SYNCFS,
// GETLK/SETLK/SETLKW, POLL, INTERRUPT, DESTROY.
// Protocol note §1.3, §1.5, §2.1 (dirent packing), §2.4.
import { Errno } from '../util/errno.js';
import { FUSE_FSYNC_FDATASYNC, FUSE_IOCTL } from './abi-consts.js';
import { FuseIoctlOut } from './abi-structs.js';
import { FuseFallocateIn, FuseLseekIn, FuseReadIn, FuseWriteIn } from './abi-args.js';
import type { Handler } from './handlers-node.js';
import type { Dispatcher } from './dispatch.js';
import { resetEntryOut, resetOpenOut } from './outs.js';
import type { LockIn } from './ops.js';
import { readU64, type Request } from './request.js';

// Fields named `offset` collide with the struct view's own `offset` property
// (util/struct.ts), so they are read directly at their table offsets.
const READ_OFFSET = FuseReadIn.field('offset')!.offset;
const WRITE_OFFSET = FuseWriteIn.field('offset')!.offset;
const FALLOCATE_OFFSET = FuseFallocateIn.field('offset')!.offset;
const LSEEK_OFFSET = FuseLseekIn.field('offset')!.offset;
function u64Arg(r: Request, fieldOffset: number): number {
  return readU64(r.dv, r.argOffset + fieldOffset);
}

function plain(d: Dispatcher, rc: number): void {
  const e = d.errnoOf(rc);
  if (e !== 0) d.reply.error(e);
  else d.reply.ok();
}

function openReply(d: Dispatcher, rc: number): void {
  const e = d.errnoOf(rc);
  if (e !== 0) d.reply.error(e);
  else d.reply.open(d.openOut);
}

export const open: Handler = (d, r) => {
  const a = d.args.open;
  const out = resetOpenOut(d.openOut);
  // Like libfuse: a filesystem without open() gets fh 0.
  if (!d.ops.open) return d.reply.open(out);
  openReply(d, d.ops.open(r, a.flags, a.open_flags, out));
};

export const opendir: Handler = (d, r) => {
  const out = resetOpenOut(d.openOut);
  if (!d.ops.opendir) return d.reply.open(out);
  openReply(d, d.ops.opendir(r, d.args.open.flags, out));
};

export const create: Handler = (d, r) => {
  if (!d.ops.create) return d.reply.error(Errno.ENOSYS);
  const a = d.args.create;
  const entry = resetEntryOut(d.entry, d.entryTimeout, d.attrTimeout);
  const out = resetOpenOut(d.openOut);
  const e = d.errnoOf(d.ops.create(r, r.name0(), a.mode, a.umask, a.flags, a.open_flags, entry, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.create(entry, out);
};

export const tmpfile: Handler = (d, r) => {
  if (!d.ops.tmpfile) return d.reply.error(Errno.ENOSYS);
  const a = d.args.create;
  const entry = resetEntryOut(d.entry, d.entryTimeout, d.attrTimeout);
  const out = resetOpenOut(d.openOut);
  const e = d.errnoOf(d.ops.tmpfile(r, a.mode, a.umask, a.flags, entry, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.create(entry, out);
};

export const read: Handler = (d, r) => {
  if (!d.ops.read) return d.reply.error(Errno.ENOSYS);
  const a = d.args.read;
  const offset = u64Arg(r, READ_OFFSET);
  if (Number.isNaN(offset)) return d.reply.data(d.payloadView(0)); // beyond any file: EOF
  const out = d.dataOut.reset(d.payloadView(a.size));
  const e = d.errnoOf(d.ops.read(r, a.fh, offset, out.dest.length, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.data(out.bytes());
};

export const write: Handler = (d, r) => {
  if (!d.ops.write) return d.reply.error(Errno.ENOSYS);
  const a = d.args.write;
  const out = d.numOut;
  out.value = 0;
  const data = r.data();
  const offset = u64Arg(r, WRITE_OFFSET);
  if (Number.isNaN(offset)) return d.reply.error(Errno.EFBIG);
  const e = d.errnoOf(d.ops.write(r, a.fh, offset, data, a.write_flags, out));
  if (e !== 0) return d.reply.error(e);
  d.reply.written(Math.max(0, Math.min(out.value, data.length)));
};

export const flush: Handler = (d, r) => {
  if (!d.ops.flush) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.flush(r, d.args.flush.fh));
};

export const release: Handler = (d, r) => {
  const a = d.args.release;
  if (!d.ops.release) return d.reply.ok();
  plain(d, d.ops.release(r, a.fh, a.flags, a.release_flags));
};

export const releasedir: Handler = (d, r) => {
  const a = d.args.release;
  if (!d.ops.releasedir) return d.reply.ok();
  plain(d, d.ops.releasedir(r, a.fh, a.flags));
};

export const fsync: Handler = (d, r) => {
  if (!d.ops.fsync) return d.reply.error(Errno.ENOSYS);
  const a = d.args.fsync;
  plain(d, d.ops.fsync(r, a.fh, (a.fsync_flags & FUSE_FSYNC_FDATASYNC) !== 0));
};

export const fsyncdir: Handler = (d, r) => {
  if (!d.ops.fsyncdir) return d.reply.error(Errno.ENOSYS);
  const a = d.args.fsync;
  plain(d, d.ops.fsyncdir(r, a.fh, (a.fsync_flags & FUSE_FSYNC_FDATASYNC) !== 0));
};

function direntsReply(d: Dispatcher, rc: number): void {
  const e = d.errnoOf(rc);
  // Records already packed are sent even after an error: READDIRPLUS entries
  // have been counted as lookups and the kernel must see them.
  if (e !== 0 && d.dirents.count === 0) d.reply.error(e);
  else d.reply.send(d.dirents.pos);
}

export const readdir: Handler = (d, r) => {
  if (!d.ops.readdir) return d.reply.error(Errno.ENOSYS);
  const a = d.args.read;
  const offset = u64Arg(r, READ_OFFSET);
  if (Number.isNaN(offset)) return d.reply.error(Errno.EINVAL);
  const sink = d.dirents.reset(a.size);
  direntsReply(d, d.ops.readdir(r, a.fh, offset, sink));
};

export const readdirplus: Handler = (d, r) => {
  if (!d.ops.readdirplus) return d.reply.error(Errno.ENOSYS);
  const a = d.args.read;
  const offset = u64Arg(r, READ_OFFSET);
  if (Number.isNaN(offset)) return d.reply.error(Errno.EINVAL);
  d.dirents.reset(a.size, d.entryTimeout, d.attrTimeout);
  direntsReply(d, d.ops.readdirplus(r, a.fh, offset, d.direntsPlus));
};

export const fallocate: Handler = (d, r) => {
  if (!d.ops.fallocate) return d.reply.error(Errno.ENOSYS);
  const a = d.args.fallocate;
  const offset = u64Arg(r, FALLOCATE_OFFSET);
  if (Number.isNaN(offset)) return d.reply.error(Errno.EFBIG);
  plain(d, d.ops.fallocate(r, a.fh, offset, a.length, a.mode));
};

export const lseek: Handler = (d, r) => {
  if (!d.ops.lseek) return d.reply.error(Errno.ENOSYS);
  const a = d.args.lseek;
  const out = d.numOut;
  out.value = 0;
  const offset = u64Arg(r, LSEEK_OFFSET);
  if (Number.isNaN(offset)) return d.reply.error(Errno.ENXIO);
  const e = d.errnoOf(d.ops.lseek(r, a.fh, offset, a.whence, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.u64(out.value);
};

function copyRange(d: Dispatcher, r: Request, wide: boolean): void {
  if (!d.ops.copyFileRange) return d.reply.error(Errno.ENOSYS);
  const a = d.args.copy;
  const out = d.numOut;
  out.value = 0;
  const e = d.errnoOf(d.ops.copyFileRange(r, a.fh_in, a.off_in, a.nodeid_out, a.fh_out, a.off_out, a.len, a.flags,
    out));
  if (e !== 0) return d.reply.error(e);
  if (wide) d.reply.u64(out.value);
  else d.reply.written(Math.min(out.value, 0xffff_ffff));
}

export const copyFileRange: Handler = (d, r) => copyRange(d, r, false);
export const copyFileRange64: Handler = (d, r) => copyRange(d, r, true);

export const ioctl: Handler = (d, r) => {
  const a = d.args.ioctl;
  if ((a.flags & FUSE_IOCTL.UNRESTRICTED) !== 0) return d.reply.error(Errno.ENOSYS);
  if (!d.ops.ioctl) return d.reply.error(Errno.ENOTTY);
  const cap = d.reply.capacity - FuseIoctlOut.size;
  const outSize = Math.min(a.out_size, cap);
  const out = d.ioctlOut.reset(d.reply.payload.subarray(FuseIoctlOut.size, FuseIoctlOut.size + outSize));
  const e = d.errnoOf(d.ops.ioctl(r, a.fh, a.cmd, a.arg, a.flags, r.data(), outSize, out));
  if (e !== 0) return d.reply.error(e);
  const bytes = out.bytes();
  d.reply.ioctl(out.result, bytes.length > outSize ? bytes.subarray(0, outSize) : bytes);
};

export const bmap: Handler = (d, r) => {
  if (!d.ops.bmap) return d.reply.error(Errno.ENOSYS);
  const a = d.args.bmap;
  const out = d.numOut;
  out.value = 0;
  const e = d.errnoOf(d.ops.bmap(r, a.block, a.blocksize, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.u64(out.value);
};

export const syncfs: Handler = (d, r) => {
  if (!d.ops.syncfs) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.syncfs(r));
};

function lockIn(d: Dispatcher): LockIn {
  const a = d.args.lk;
  const dv = d.req.dv;
  const o = d.req.argOffset;
  return {
    fh: a.fh, owner: dv.getBigUint64(o + 8, true), start: dv.getBigUint64(o + 16, true),
    end: dv.getBigUint64(o + 24, true), type: a.type, pid: a.pid, lkFlags: a.lk_flags,
  };
}

export const getlk: Handler = (d, r) => {
  if (!d.ops.getlk) return d.reply.error(Errno.ENOSYS);
  const out = d.lockOut;
  out.start = out.end = 0n;
  out.type = out.pid = 0;
  const e = d.errnoOf(d.ops.getlk(r, lockIn(d), out));
  if (e !== 0) d.reply.error(e);
  else d.reply.lk(out);
};

function setlkCommon(d: Dispatcher, r: Request, sleep: boolean): void {
  if (!d.ops.setlk) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.setlk(r, lockIn(d), sleep));
}
export const setlk: Handler = (d, r) => setlkCommon(d, r, false);
export const setlkw: Handler = (d, r) => setlkCommon(d, r, true);

/** POLL: ENOSYS, after which the kernel stops asking and uses the default mask. */
export const poll: Handler = (d) => d.reply.error(Errno.ENOSYS);

/**
 * INTERRUPT: requests are handled synchronously, one at a time, so the target
 * has always been answered by the time its INTERRUPT is read. Answering ENOSYS
 * makes the kernel stop sending them (fc->no_interrupt) when it still knows
 * the target; otherwise the write fails with ENOENT, which the writer ignores.
 */
export const interrupt: Handler = (d) => d.reply.error(Errno.ENOSYS);

export const destroy: Handler = (d) => {
  d.destroyed = true;
  d.ops.destroy?.();
  d.reply.ok();
};

/** NOTIFY_REPLY answers a RETRIEVE we never send: ignored, no reply. */
export const notifyReply: Handler = () => {};
